// tfgen writes the plugin's Pulumi package schema (`tfgen schema --out DIR`), which main.go embeds.
package main

import (
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"vaultk8s.local/tools/provider-vault/info"
)

func main() {
	version := os.Getenv("PLUGIN_VERSION")
	tfgen.Main("vault", version, info.Provider(version))
}
