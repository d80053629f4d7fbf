// pod-security reads Kubernetes objects (`helm template` output) on stdin and evaluates the pod
// template of every Deployment against the restricted Pod Security Standard, with the checks the
// admission controller itself runs (k8s.io/pod-security-admission). Exit 1 names each violation.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fail(err)
	}
	restricted := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	decoder := yaml.NewYAMLOrJSONDecoder(os.Stdin, 4096)
	checked, violations := 0, 0
	for {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			fail(err)
		}
		var head struct{ Kind string }
		if len(raw) == 0 || json.Unmarshal(raw, &head) != nil || head.Kind != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := json.Unmarshal(raw, &d); err != nil {
			fail(err)
		}
		checked++
		result := policy.AggregateCheckResults(evaluator.EvaluatePod(restricted, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec))
		if result.Allowed {
			fmt.Printf("pod-security: Deployment %s: restricted (%s)\n", d.Name, restricted.Version.String())
			continue
		}
		violations++
		fmt.Printf("pod-security: Deployment %s violates restricted: %s\n", d.Name, result.ForbiddenDetail())
	}
	if checked == 0 {
		fail(errors.New("no Deployment on stdin"))
	}
	if violations > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pod-security:", err)
	os.Exit(2)
}
