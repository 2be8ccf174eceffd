"""Creates a KMS key (ECC_SECG_P256K1, SIGN_VERIFY) holding a given secp256k1
private key, through LocalStack's `_custom_key_material_` tag, and prints its
key id. Real KMS cannot import asymmetric key material this way; the test
needs a key whose address the devnet already funded.

usage: import_key.py ENDPOINT HEX_KEY   (the key is read from stdin when HEX_KEY is -)
"""
import base64
import sys

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

endpoint, key_hex = sys.argv[1], sys.argv[2]
if key_hex == "-":
    key_hex = sys.stdin.read()
key = ec.derive_private_key(int(key_hex.strip().removeprefix("0x"), 16), ec.SECP256K1())
der = key.private_bytes(
    serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)
kms = boto3.client(
    "kms",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
created = kms.create_key(
    KeySpec="ECC_SECG_P256K1",
    KeyUsage="SIGN_VERIFY",
    Tags=[{"TagKey": "_custom_key_material_", "TagValue": base64.b64encode(der).decode()}],
)
print(created["KeyMetadata"]["KeyId"])
