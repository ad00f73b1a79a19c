"""Drives HostGuard's HSS-compatible API with Huawei Cloud's official Python SDKs, unchanged.

Run by server/tests/official_sdk.rs against a freshly started console. Reads the endpoint and
an access key from the environment:

    HOSTGUARD_ENDPOINT    http://127.0.0.1:PORT
    HOSTGUARD_AK          access key (AK)
    HOSTGUARD_SK          secret key (SK)
    HOSTGUARD_PROJECT_ID  the tenant's project id
    HOSTGUARD_HOST_ID     optional: a server id of the tenant for the 2FA config call

Exits 0 when every step behaved as the SDK's users expect; prints what failed otherwise.
"""

import os
import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkhss.v5 import (
    HssClient,
    ListTwoFactorLoginHostRequest,
    SetTwoFactorLoginConfigRequest,
    SetTwoFactorLoginConfigRequestBody,
)
from huaweicloudsdksmn.v2 import (
    AddSubscriptionRequest,
    AddSubscriptionRequestBody,
    CancelSubscriptionRequest,
    CreateTopicRequest,
    CreateTopicRequestBody,
    DeleteTopicRequest,
    ListSubscriptionsByTopicRequest,
    ListTopicsRequest,
    SmnClient,
)

ENDPOINT = os.environ["HOSTGUARD_ENDPOINT"]
AK = os.environ["HOSTGUARD_AK"]
SK = os.environ["HOSTGUARD_SK"]
PROJECT_ID = os.environ["HOSTGUARD_PROJECT_ID"]
HOST_ID = os.environ.get("HOSTGUARD_HOST_ID")


def config():
    c = HttpConfig.get_default_config()
    c.ignore_ssl_verification = True
    c.timeout = (10, 30)
    return c


def smn(sk=SK):
    return (
        SmnClient.new_builder()
        .with_http_config(config())
        .with_credentials(BasicCredentials(AK, sk, PROJECT_ID))
        .with_endpoints([ENDPOINT])
        .build()
    )


def hss(sk=SK):
    return (
        HssClient.new_builder()
        .with_http_config(config())
        .with_credentials(BasicCredentials(AK, sk, PROJECT_ID))
        .with_endpoints([ENDPOINT])
        .build()
    )


def check(condition, what):
    if not condition:
        print("FAILED:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


def refused(call, status, code):
    """Runs `call`, which must fail with this HTTP status and error code."""
    try:
        call()
    except exceptions.ClientRequestException as e:
        check(e.status_code == status, f"status {e.status_code} is {status} ({e.error_msg})")
        check(e.error_code == code, f"error code {e.error_code} is {code}")
        return e
    check(False, f"the call was refused with {code}")


def main():
    client = smn()

    created = client.create_topic(
        CreateTopicRequest(body=CreateTopicRequestBody(name="sdk-login-codes", display_name="SDK Login Codes"))
    )
    urn = created.topic_urn
    check(urn and urn.endswith(":" + PROJECT_ID + ":sdk-login-codes"), f"CreateTopic returns the topic URN {urn}")
    check(bool(created.request_id), "CreateTopic returns a request id")

    topics = client.list_topics(ListTopicsRequest(offset=0, limit=100))
    names = [t.name for t in topics.topics]
    check("sdk-login-codes" in names, f"ListTopics lists the new topic among {names}")
    check(topics.topic_count == len(names), "ListTopics counts the topics")
    listed = next(t for t in topics.topics if t.name == "sdk-login-codes")
    check(listed.display_name == "SDK Login Codes" and listed.topic_urn == urn, "ListTopics gives its fields")

    added = client.add_subscription(
        AddSubscriptionRequest(
            topic_urn=urn,
            body=AddSubscriptionRequestBody(protocol="email", endpoint="oncall@acme.example", remark="on call"),
        )
    )
    check(added.subscription_urn.startswith(urn + ":"), f"AddSubscription returns {added.subscription_urn}")

    subs = client.list_subscriptions_by_topic(ListSubscriptionsByTopicRequest(topic_urn=urn, offset=0, limit=10))
    check(subs.subscription_count == 1, "ListSubscriptionsByTopic counts one subscription")
    s = subs.subscriptions[0]
    check(s.endpoint == "oncall@acme.example" and s.protocol == "email", "the subscription's endpoint and protocol")
    check(s.status == 0, f"a new subscription is unconfirmed (status 0), got {s.status}")
    check(s.subscription_urn == added.subscription_urn, "the subscription's URN")

    e = refused(
        lambda: client.add_subscription(
            AddSubscriptionRequest(
                topic_urn=urn, body=AddSubscriptionRequestBody(protocol="sms", endpoint="12345", remark="")
            )
        ),
        422,
        "HG.REQUEST.VALIDATION",
    )
    check(e.error_msg.startswith("endpoint"), f"the refusal names the field: {e.error_msg}")

    refused(lambda: smn(sk="W" * 40).list_topics(ListTopicsRequest()), 401, "HG.AUTH.BAD_SIGNATURE")

    h = hss()
    hosts = h.list_two_factor_login_host(ListTwoFactorLoginHostRequest(limit=50, offset=0))
    check(hosts.total_num >= 1, f"ListTwoFactorLoginHost counts the tenant's servers ({hosts.total_num})")
    first = hosts.data_list[0]
    check(bool(first.host_id) and bool(first.host_name), "each host has an id and a name")
    check(first.os_type in ("Linux", "Windows"), f"os_type is Linux or Windows, got {first.os_type}")
    check(isinstance(first.auth_switch, bool), "auth_switch is a boolean")

    if HOST_ID:
        h.set_two_factor_login_config(
            SetTwoFactorLoginConfigRequest(
                body=SetTwoFactorLoginConfigRequestBody(
                    enabled=True, auth_type="code", host_id_list=[HOST_ID]
                )
            )
        )
        print("ok: SetTwoFactorLoginConfig enables verification-code 2FA")
        listed = h.list_two_factor_login_host(ListTwoFactorLoginHostRequest(limit=200))
        row = next(x for x in listed.data_list if x.host_id == HOST_ID)
        check(row.auth_switch is True and row.auth_type == "code", f"the host shows 2FA on with code: {row}")
        refused(
            lambda: h.set_two_factor_login_config(
                SetTwoFactorLoginConfigRequest(
                    body=SetTwoFactorLoginConfigRequestBody(enabled=True, auth_type="voice", host_id_list=[HOST_ID])
                )
            ),
            422,
            "HG.REQUEST.VALIDATION",
        )
    refused(lambda: hss(sk="W" * 40).list_two_factor_login_host(ListTwoFactorLoginHostRequest()), 401, "HG.AUTH.BAD_SIGNATURE")

    client.cancel_subscription(CancelSubscriptionRequest(subscription_urn=added.subscription_urn))
    subs = client.list_subscriptions_by_topic(ListSubscriptionsByTopicRequest(topic_urn=urn))
    check(subs.subscription_count == 0, "CancelSubscription removes it")
    client.delete_topic(DeleteTopicRequest(topic_urn=urn))
    names = [t.name for t in client.list_topics(ListTopicsRequest()).topics]
    check("sdk-login-codes" not in names, "DeleteTopic removes the topic")
    refused(lambda: client.delete_topic(DeleteTopicRequest(topic_urn=urn)), 404, "HG.RESOURCE.NOT_FOUND")
    print("all SDK calls behaved")


if __name__ == "__main__":
    main()
