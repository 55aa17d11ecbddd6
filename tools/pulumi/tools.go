//go:build tools

// Package tools pins the Pulumi CLI; the toolchain script builds its main package.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
