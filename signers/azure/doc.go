// Package azure is the profile kind "azure" (module
// http.handlers.presign.profiles.azure): Azure Blob Storage, signed with a
// SAS (an account key's service SAS, or a user delegation SAS).
//
// The files:
//
//	azure.go        the profile: its config, Provision, CheckRule, Sign (the SAS), the
//	                Caddyfile
//	azure_udk.go    user delegation keys, fetched with Entra ID credentials and cached
//	azure_store.go  Store: List Blobs and Get Blob Properties, signed with a SAS of
//	                their own
package azure
