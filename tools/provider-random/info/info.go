// Package info maps terraform-provider-random onto the Pulumi package `random`, as the
// pulumi-random Python SDK names it: random_<x> is random:index/random<X>:Random<X>.
//
// pulumi-random's own provider module is not served by the Go module proxy this project builds
// from, so the plugin is the Pulumi Terraform bridge (plugin-framework flavour) over the same
// upstream provider the pulumi-random release wraps. The tests check the tokens and input names
// against the installed Python SDK.
package info

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	bridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// The bridge's metadata as the toolchain's tfgen run wrote it (a placeholder before that run).
//
//go:embed bridge-metadata-embed.json
var metadata []byte

var resources = map[string]string{
	"random_bytes":    "RandomBytes",
	"random_id":       "RandomId",
	"random_integer":  "RandomInteger",
	"random_password": "RandomPassword",
	"random_pet":      "RandomPet",
	"random_shuffle":  "RandomShuffle",
	"random_string":   "RandomString",
	"random_uuid":     "RandomUuid",
	"random_uuid4":    "RandomUuid4",
	"random_uuid7":    "RandomUuid7",
}

// Provider is the bridge's description of the plugin.
func Provider(version string) bridge.ProviderInfo {
	mapped := make(map[string]*bridge.ResourceInfo, len(resources))
	for tf, name := range resources {
		mapped[tf] = &bridge.ResourceInfo{Tok: bridge.MakeResource("random", "index", name)}
	}
	// `number`, deprecated upstream in favour of `numeric`, is not in pulumi-random's schema.
	for _, tf := range []string{"random_password", "random_string"} {
		mapped[tf].Fields = map[string]*bridge.SchemaInfo{"number": {Omit: true}}
	}
	return bridge.ProviderInfo{
		P:            tfbridge.ShimProviderWithContext(context.Background(), shim.NewProvider()),
		Name:         "random",
		Version:      version,
		Description:  "Random values, bridged from terraform-provider-random.",
		License:      "Apache-2.0",
		GitHubOrg:    "hashicorp",
		Repository:   "https://github.com/pulumi/pulumi-random",
		Resources:    mapped,
		MetadataInfo: bridge.NewProviderMetadata(metadata),
	}
}
