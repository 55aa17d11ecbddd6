// The vault resource plugin: the Terraform bridge over terraform-provider-vault (see info/).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"vaultk8s.local/tools/provider-vault/info"
)

//go:embed schema-embed.json
var pulumiSchema []byte

// version is set at link time to the pulumi-vault Python SDK's version.
var version string

func main() {
	tfbridge.Main("vault", version, info.Provider(version), pulumiSchema)
}
