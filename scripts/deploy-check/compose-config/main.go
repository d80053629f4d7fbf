// compose-config loads a compose file the way `docker compose config` does (compose-spec's
// compose-go: the Compose schema, interpolation, references between services) and prints the
// resolved project as JSON for scripts/deploy-check.mjs to inspect. Arguments: the compose file,
// then NAME=VALUE variables to interpolate with.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-config docker-compose.yml [NAME=VALUE ...]")
		os.Exit(2)
	}
	file, _ := filepath.Abs(os.Args[1])
	options, err := cli.NewProjectOptions([]string{file}, cli.WithEnv(os.Args[2:]), cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithResolvedPaths(true))
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-config:", err)
	os.Exit(1)
}
