//go:build tools

// Package tools pins the Pulumi YAML language host; the toolchain script builds its main package.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
