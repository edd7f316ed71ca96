package presign

// The profile kinds, each a Caddy module in the namespace
// "http.handlers.presign.profiles" that registers itself, imported for that
// alone, as Caddy's modules/standard imports its modules: one xcaddy line
// brings every kind, and the handler names none.
import (
	_ "github.com/caddy-presign/presign/signers/azure"
	_ "github.com/caddy-presign/presign/signers/cloudfront"
	_ "github.com/caddy-presign/presign/signers/gcs"
	_ "github.com/caddy-presign/presign/signers/local"
	_ "github.com/caddy-presign/presign/signers/s3"
)
