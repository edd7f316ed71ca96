"""Independent CloudFront signer and verifier for the cross-check tests.

Run as `/usr/bin/python3 -I cloudfront_botocore.py` with a JSON list of jobs
on stdin; prints a JSON list of results. It uses botocore's CloudFrontSigner
(the canned and custom policies as botocore builds them) and the
`cryptography` package for the RSA (PKCS #1 v1.5, SHA-1) and ECDSA (DER,
SHA-1) signatures. Nothing here comes from the Go code under test.

Jobs:
  {"op": "sign", "key": PEM path, "key_id": ID, "url": URL, "expires": epoch,
   "resource": optional pattern, "ip": optional "a.b.c.d/32"}
    -> {"url": signed URL, "policy": the policy JSON botocore signed}
  {"op": "verify", "pub": PEM path, "policy": policy JSON, "signature":
   CloudFront-base64 signature}
    -> {"ok": true|false}
"""

import base64
import datetime
import json
import sys

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def load_private(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def load_public(path):
    with open(path, "rb") as f:
        return serialization.load_pem_public_key(f.read())


def signer_for(key):
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return lambda message: key.sign(message, ec.ECDSA(hashes.SHA1()))
    raise ValueError("unsupported key type %r" % type(key))


def cf_b64decode(s):
    return base64.b64decode(s.replace("-", "+").replace("_", "=").replace("~", "/"))


def sign(job):
    cf = CloudFrontSigner(job["key_id"], signer_for(load_private(job["key"])))
    when = datetime.datetime.fromtimestamp(job["expires"], datetime.timezone.utc)
    if job.get("resource") or job.get("ip"):
        policy = cf.build_policy(job.get("resource") or job["url"], when, ip_address=job.get("ip"))
        return {"url": cf.generate_presigned_url(job["url"], policy=policy), "policy": policy}
    policy = cf.build_policy(job["url"], when)  # what generate_presigned_url signs
    return {"url": cf.generate_presigned_url(job["url"], date_less_than=when), "policy": policy}


def verify(job):
    pub = load_public(job["pub"])
    message = job["policy"].encode("utf-8")
    signature = cf_b64decode(job["signature"])
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(signature, message, padding.PKCS1v15(), hashes.SHA1())
        else:
            pub.verify(signature, message, ec.ECDSA(hashes.SHA1()))
    except InvalidSignature:
        return {"ok": False}
    return {"ok": True}


def main():
    jobs = json.load(sys.stdin)
    out = []
    for job in jobs:
        out.append({"sign": sign, "verify": verify}[job["op"]](job))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
