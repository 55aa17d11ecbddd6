// Package info maps terraform-provider-vault onto the Pulumi package `vault`, as the pulumi-vault
// Python SDK names it, for the resources this project declares.
//
// pulumi-vault's own provider module is not served by the Go module proxy this project builds from,
// so the plugin is the Pulumi Terraform bridge over the same upstream provider the pulumi-vault
// release wraps. Tokens and the provider configuration defaults follow pulumi-vault; property names
// are the bridge's standard mapping, which pulumi-vault also uses. The tests check every token and
// input name against the installed Python SDK.
package info

import (
	"github.com/hashicorp/terraform-provider-vault/vault"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
)

// resources: Terraform type → (module, Pulumi name), as pulumi-vault's tokens name them.
var resources = map[string][2]string{
	"vault_audit":                               {"index", "Audit"},
	"vault_audit_request_header":                {"index", "AuditRequestHeader"},
	"vault_auth_backend":                        {"index", "AuthBackend"},
	"vault_mount":                               {"index", "Mount"},
	"vault_policy":                              {"index", "Policy"},
	"vault_token":                               {"index", "Token"},
	"vault_database_secret_backend_connection":  {"database", "SecretBackendConnection"},
	"vault_database_secret_backend_role":        {"database", "SecretBackendRole"},
	"vault_database_secret_backend_static_role": {"database", "SecretBackendStaticRole"},
	"vault_generic_endpoint":                    {"generic", "Endpoint"},
	"vault_generic_secret":                      {"generic", "Secret"},
	"vault_jwt_auth_backend":                    {"jwt", "AuthBackend"},
	"vault_jwt_auth_backend_role":               {"jwt", "AuthBackendRole"},
	"vault_kubernetes_auth_backend_config":      {"kubernetes", "AuthBackendConfig"},
	"vault_kubernetes_auth_backend_role":        {"kubernetes", "AuthBackendRole"},
	"vault_kv_secret_backend_v2":                {"kv", "SecretBackendV2"},
	"vault_kv_secret_v2":                        {"kv", "SecretV2"},
}

// Provider is the bridge's description of the plugin: only the mapped resources are served.
func Provider(version string) tfbridge.ProviderInfo {
	upstream := vault.Provider()
	for name := range upstream.ResourcesMap {
		if _, ok := resources[name]; !ok {
			delete(upstream.ResourcesMap, name)
		}
	}
	upstream.DataSourcesMap = nil

	mapped := make(map[string]*tfbridge.ResourceInfo, len(resources))
	for tf, m := range resources {
		mapped[tf] = &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("vault", m[0], m[1])}
	}
	noSecretHeaders := false
	return tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(upstream),
		Name:        "vault",
		Version:     version,
		DisplayName: "HashiCorp Vault",
		Description: "HashiCorp Vault resources, bridged from terraform-provider-vault.",
		License:     "Apache-2.0",
		GitHubOrg:   "hashicorp",
		Repository:  "https://github.com/pulumi/pulumi-vault",
		// The defaults pulumi-vault gives its provider configuration.
		Config: map[string]*tfbridge.SchemaInfo{
			"skip_tls_verify":       {Default: &tfbridge.DefaultInfo{EnvVars: []string{"VAULT_SKIP_VERIFY"}}},
			"max_lease_ttl_seconds": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"TERRAFORM_VAULT_MAX_TTL"}, Value: 1200}},
			"max_retries":           {Default: &tfbridge.DefaultInfo{EnvVars: []string{"VAULT_MAX_RETRIES"}, Value: 2}},
			"headers":               {Secret: &noSecretHeaders},
		},
		Resources: mapped,
	}
}
