// Writes the descriptor image `buf generate` compiles test/gen/ from: Envoy's ext_proc service
// and every file it imports, exactly as Envoy's API defines them at the release go.mod pins.
//
// Envoy's API comes from go-control-plane's envoy module, which is released with each Envoy
// version (v1.40.0 is Envoy 1.40's API) and pinned with checksums in go.sum. It ships generated
// Go rather than .proto files, but that code embeds each file's compiled descriptor: importing the
// ext_proc package registers that file and, through Go's imports, everything it imports, so the
// image is read back from Go's registry instead of compiled from sources.
//
// Usage: `npm run envoy-api` writes proto/envoy-api.binpb; `npm run envoy-api -- -check` fails
// instead when the committed image is not the one go.mod's release gives (CI runs it).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	_ "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

const root = "envoy/service/ext_proc/v3/external_processor.proto"

// collect appends file's imports before file itself (buf and protoc-gen-es need every file
// after the files it imports), each once, in declaration order so the bytes are reproducible.
func collect(file protoreflect.FileDescriptor, seen map[string]bool, set *descriptorpb.FileDescriptorSet) {
	if seen[file.Path()] {
		return
	}
	seen[file.Path()] = true
	imports := file.Imports()
	for i := 0; i < imports.Len(); i++ {
		collect(imports.Get(i).FileDescriptor, seen, set)
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(file))
}

func main() {
	check := flag.Bool("check", false, "fail if the image at -out differs instead of writing it")
	out := flag.String("out", "../../proto/envoy-api.binpb", "the image's path")
	flag.Parse()
	path := *out
	file, err := protoregistry.GlobalFiles.FindFileByPath(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	set := &descriptorpb.FileDescriptorSet{}
	collect(file, map[string]bool{}, set)
	image, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *check {
		committed, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(committed, image) {
			fmt.Fprintf(os.Stderr, "%s is not the image of the Envoy API go.mod pins: run `npm run envoy-api`\n", path)
			os.Exit(1)
		}
		return
	}
	if err := os.WriteFile(path, image, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
