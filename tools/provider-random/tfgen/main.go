// tfgen writes the plugin's Pulumi package schema and bridge metadata (`tfgen schema --out DIR`).
package main

import (
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"vaultk8s.local/tools/provider-random/info"
)

func main() {
	tfgen.Main("random", info.Provider(os.Getenv("PLUGIN_VERSION")))
}
