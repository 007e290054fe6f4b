"""Credentials are taken out of every text: known values anywhere, and the shapes credentials have in SDK logs."""

from __future__ import annotations

import pytest

from cloudlb.redaction import REDACTED, Redactor

# Lines as botocore 1.44 logs them at DEBUG (captured against moto), with planted credentials.
ACCESS_KEY_ID = "AKIACLOUDLBTESTKEY01"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEplantedSessionToken0123"
SIGNATURE = "812a71eafa0cceffb88e4c76d2b7bd4c29e0df17906e7b94423a5d6d498b02de"
BOTOCORE_LINES = [
    f"x-amz-security-token:{SESSION_TOKEN}",
    f"DEBUG:botocore.auth:Signature:\n{SIGNATURE}",
    "Sending http request: <AWSPreparedRequest stream_output=False, method=POST, url=http://0.0.0.0:45063/, "
    f"headers={{'X-Amz-Date': b'20261202T024610Z', 'X-Amz-Security-Token': b'{SESSION_TOKEN}', 'Authorization': "
    f"b'AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20261202/us-east-1/sts/aws4_request, "
    f"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={SIGNATURE}'}}>",
    "Response body:\nb'<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIARZPUZDIKI7MDTKGW"
    "</AccessKeyId><SecretAccessKey>J6mLWFsRgAjz5VRuEWtgIinKDNQke9ygBNtFu/AN</SecretAccessKey><SessionToken>"
    f"{SESSION_TOKEN}+/=</SessionToken><Expiration>2026-12-02T03:46:10Z</Expiration></Credentials>'",
]
SECRETS_IN_LINES = [ACCESS_KEY_ID, SESSION_TOKEN, SIGNATURE, "ASIARZPUZDIKI7MDTKGW",
                    "J6mLWFsRgAjz5VRuEWtgIinKDNQke9ygBNtFu/AN"]


@pytest.mark.parametrize("line", BOTOCORE_LINES)
def test_botocore_wire_logging_loses_every_credential(line: str) -> None:
    redacted = Redactor().redact(line)
    assert REDACTED in redacted
    assert [secret for secret in SECRETS_IN_LINES if secret in redacted] == []


@pytest.mark.parametrize(("line", "secret"), [
    ('{"AccessKeyId": "ASIAZZZZZZZZZZZZZZZZ", "SecretAccessKey": "c2VjcmV0LWtleQ", "Token": "IQoJb3JpZ2luX2Vj"}',
     "IQoJb3JpZ2luX2Vj"),
    ('{"AccessKeyId": "ASIAZZZZZZZZZZZZZZZZ", "SecretAccessKey": "c2VjcmV0LWtleQ", "Token": "IQoJb3JpZ2luX2Vj"}',
     "c2VjcmV0LWtleQ"),
    ("headers={'Authorization': 'Bearer kube-planted-token-0123456789'}", "kube-planted-token-0123456789"),
    ("token: eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl", "eyJpc3MiOiJrdWJlcm5ldGVzIn0"),
    ("service account eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJl was read",
     "eyJpc3MiOiJrdWJlcm5ldGVzIn0"),
    ('"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n"', "MIIEvQIBADANBg"),
    ("refreshing credentials: access_token=ya29.a0AfB_byC-planted", "a0AfB_byC-planted"),
    ("GET /?X-Amz-Signature=abc123def&X-Amz-Credential=AKIAxx%2F2026", "abc123def"),
    ("password=hunter2-planted&user=admin", "hunter2-planted"),
])
def test_credential_shapes_are_recognised_without_knowing_the_values(line: str, secret: str) -> None:
    assert secret not in Redactor().redact(line)


def test_registered_values_are_replaced_wherever_they_appear() -> None:
    redactor = Redactor()
    redactor.register("opaque planted value", "short", None, "")
    assert redactor.redact("x opaque planted value y, short") == f"x {REDACTED} y, short"


def test_a_known_value_in_a_secret_shape_is_redacted_once_and_cleanly() -> None:
    redactor = Redactor()
    redactor.register(SESSION_TOKEN)
    line = f"headers={{'X-Amz-Security-Token': b'{SESSION_TOKEN}', 'Content-Length': '58'}}"
    assert redactor.redact(line) == f"headers={{'X-Amz-Security-Token': b'{REDACTED}', 'Content-Length': '58'}}"


def test_environment_credentials_are_registered_but_file_names_are_not() -> None:
    redactor = Redactor()
    redactor.register_environment({"AWS_SECRET_ACCESS_KEY": "secret-from-env-1", "CUSTOM_API_TOKEN": "tok-en-value-2",
                                   "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token-file",
                                   "AWS_REGION": "eu-west-1-region"})
    text = "secret-from-env-1 tok-en-value-2 /var/run/token-file eu-west-1-region"
    assert redactor.redact(text) == f"{REDACTED} {REDACTED} /var/run/token-file eu-west-1-region"


@pytest.mark.parametrize("line", [
    "default/web: ensure succeeded in 0.84s, address cl-default-web-29fb31560ane-1.us-east-1.elb.amazonaws.com",
    "retrying default/api in 2.0s after: describing load balancers: Throttling: Rate exceeded",
    "Making request for OperationModel(name=DescribeLoadBalancers) with params: {'body': {'PageSize': 1}}",
    "could not post Event Warning SyncLoadBalancerFailed on default/web: 409 Conflict",
])
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert Redactor().redact(line) == line
