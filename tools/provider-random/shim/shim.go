// Package shim exposes terraform-provider-random's framework provider, which lives in an internal
// package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	random "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider is the upstream provider.
func NewProvider() provider.Provider { return random.New() }
