package azure

import (
	"context"
	"testing"

	"github.com/caddy-presign/presign/signers/signerstest"
)

// TestRefusalAzure: the blob service's answers to List Blobs (an XML Error
// body, x-ms-error-code) and Get Blob Properties (x-ms-error-code alone).
func TestRefusalAzure(t *testing.T) {
	for _, c := range []signerstest.RefusalCase{
		{Status: 400, Code: "OutOfRangeInput", Want: 400}, // a marker the service never issued
		{Status: 400, Code: "InvalidQueryParameterValue", Param: "marker", Want: 400},
		{Status: 400, Code: "OutOfRangeQueryParameterValue", Param: "prefix", Want: 400},
		{Status: 400, Code: "InvalidResourceName", Want: 400},
		{Status: 400, Code: "InvalidUri", Want: 400},
		{Status: 400, Code: "InvalidInput", Want: 400},
		{Status: 400, Code: "InvalidQueryParameterValue", Param: "se", Want: 502}, // the SAS's own
		{Status: 400, Code: "InvalidHeaderValue", Want: 502},
		{Status: 400, Code: "", Want: 502},
		{Status: 401, Code: "InvalidAuthenticationInfo", Want: 502},
		{Status: 403, Code: "AuthenticationFailed", Want: 502},
		{Status: 403, Code: "AuthorizationPermissionMismatch", Want: 502},
		{Status: 404, Code: "ContainerNotFound", Want: 502},
		{Status: 500, Code: "InternalError", Want: 502},
		{Status: 503, Code: "ServerBusy", Want: 502},
		{Status: 200, Want: 502}, // an HTML page: no listing
	} {
		srv := signerstest.StoreAnswer(t, true, &c)
		a := newTestAzure(t, &Azure{Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey, Endpoint: srv.URL + "/devstoreaccount1"})
		_, err := a.List(context.Background(), "docs/", "Zm9yZ2Vk")
		signerstest.CheckClassified(t, "List Blobs", &c, false, err)
	}
	for _, c := range []signerstest.RefusalCase{
		{Status: 200, Want: 200},
		{Status: 200, Want: 502}, // no ETag
		{Status: 404, Code: "BlobNotFound", Want: 404},
		{Status: 404, Code: "ContainerNotFound", Want: 502},
		{Status: 404, Code: "", Want: 502}, // not the service's answer
		{Status: 400, Code: "InvalidResourceName", Want: 400},
		{Status: 400, Code: "OutOfRangeInput", Want: 400},
		{Status: 403, Code: "AuthenticationFailed", Want: 502},
		{Status: 500, Code: "InternalError", Want: 502},
	} {
		srv := signerstest.StoreAnswer(t, true, &c)
		a := newTestAzure(t, &Azure{Account: "devstoreaccount1", Container: "media", AccountKey: azureTestKey, Endpoint: srv.URL + "/devstoreaccount1"})
		ok, err := a.Exists(context.Background(), "k")
		signerstest.CheckClassified(t, "Get Blob Properties", &c, ok, err)
	}
}
