// The random resource plugin: the Terraform bridge over terraform-provider-random (see info/).
package main

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"vaultk8s.local/tools/provider-random/info"
)

//go:embed schema-embed.json
var pulumiSchema []byte

// version is set at link time to the pulumi-random Python SDK's version.
var version string

func main() {
	tfbridge.Main(context.Background(), "random", info.Provider(version), tfbridge.ProviderMetadata{PackageSchema: pulumiSchema})
}
