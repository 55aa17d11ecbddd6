//go:build tools

// Package tools pins the External Secrets Operator (main at the module root). v0.16.2 is the newest
// release whose module builds from the proxy alone: from v1.0 upstream's go.mod replaces ./apis,
// ./runtime and every provider and generator with untagged nested modules that are not in the zip.
package tools

import _ "github.com/external-secrets/external-secrets"
