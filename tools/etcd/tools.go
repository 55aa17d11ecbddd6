//go:build tools

// Package tools pins etcd: the server module is itself the main package (server/main.go). Upstream's
// go.mod replaces api/v3, client/pkg/v3, client/v3 and pkg/v3 with local paths; go.mod here requires
// each at the same release instead.
package tools

import _ "go.etcd.io/etcd/server/v3"
