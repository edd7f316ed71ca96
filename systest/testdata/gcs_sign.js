// Signs Cloud Storage V4 URLs with Google's own Node library
// (@google-cloud/storage), for the check of the tests' GCS server: GET,
// HEAD and DELETE of an object and a ListObjectsV2 listing of the bucket,
// path style against the endpoint, and GET of the object virtual-hosted
// through a host name bound to the bucket; and a V4 POST policy form for
// the object (its URL is the endpoint alone: the caller posts it to the
// bucket). Prints them as JSON.
//
// Usage: node gcs_sign.js <key file> <endpoint> <bucket> <object> <virtual host URL>
'use strict';
const {Storage} = require('@google-cloud/storage');

async function main() {
  const [keyFilename, apiEndpoint, bucketName, object, virtualHost] = process.argv.slice(2);
  const storage = new Storage({keyFilename, apiEndpoint});
  const bucket = storage.bucket(bucketName);
  const file = bucket.file(object);
  const expires = Date.now() + 10 * 60 * 1000;
  const sign = (target, cfg) => target.getSignedUrl({version: 'v4', expires, ...cfg}).then(([u]) => u);
  const out = {
    get: await sign(file, {action: 'read'}),
    // File offers no HEAD action: its signer (the library's URLSigner,
    // made by the first call) signs any method
    head: await file.signer.getSignedUrl({version: 'v4', expires, method: 'HEAD'}),
    delete: await sign(file, {action: 'delete'}),
    list: await sign(bucket, {action: 'list', queryParams: {'list-type': '2', prefix: 'dir/', delimiter: '/'}}),
    virtualGet: await sign(file, {action: 'read', cname: virtualHost}),
    // the library adds each field as an exact condition, but x-ignore-*
    post: (await file.generateSignedPostPolicyV4({
      expires,
      conditions: [['eq', '$Content-Type', 'image/png'], ['content-length-range', 1, 100]],
      fields: {'Content-Type': 'image/png', success_action_status: '201', 'x-ignore-note': 'any'},
    }))[0],
  };
  process.stdout.write(JSON.stringify(out));
}

main().catch(err => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
