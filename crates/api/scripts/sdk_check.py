"""Drives a running endpoint with boto3 and the AWS CLI: every operation group, long polling and
paging. Usage: python sdk_check.py http://127.0.0.1:PORT (exits non-zero on the first failure)."""

import json
import os
import subprocess
import sys
import threading
import time

import boto3
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
CREDENTIALS = dict(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
session = boto3.session.Session(**CREDENTIALS)
sqs = session.client("sqs", endpoint_url=ENDPOINT)
ddb = session.client("dynamodb", endpoint_url=ENDPOINT)
streams = session.client("dynamodbstreams", endpoint_url=ENDPOINT)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}")


def error_code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def aws(*args):
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=ENDPOINT,
    )
    out = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--endpoint-url", ENDPOINT, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout) if out.stdout.strip() else {}


def sqs_group():
    urls = [sqs.create_queue(QueueName=f"py-{i}")["QueueUrl"] for i in range(5)]
    check(urls[0].startswith(ENDPOINT + "/000000000000/"), "queue URL under the endpoint")
    pages = sqs.get_paginator("list_queues").paginate(QueueNamePrefix="py-", PaginationConfig={"PageSize": 2})
    listed = [url for page in pages for url in page.get("QueueUrls", [])]
    check(sorted(listed) == sorted(urls), "list_queues pages through all queues")
    url = urls[0]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "40"})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check(attrs["VisibilityTimeout"] == "40", "queue attributes")
    sqs.tag_queue(QueueUrl=url, Tags={"team": "sales"})
    check(sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "sales"}, "queue tags")
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
    check(len(batch["Successful"]) == 10, "send_message_batch")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    check(len(got["Messages"]) == 10, "receive 10")
    handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got["Messages"])]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[0]["ReceiptHandle"], VisibilityTimeout=0)
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=handles[1:])
    check(len(deleted["Successful"]) == 9, "delete_message_batch")

    # Long polling: a waiting receive returns as soon as a message is sent.
    poll_url = urls[1]
    threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=poll_url, MessageBody="late")).start()
    start = time.monotonic()
    got = sqs.receive_message(QueueUrl=poll_url, WaitTimeSeconds=10)
    check([m["Body"] for m in got.get("Messages", [])] == ["late"], "long poll receives a late message")
    check(time.monotonic() - start < 5, "long poll returns early")
    start = time.monotonic()
    got = sqs.receive_message(QueueUrl=urls[2], WaitTimeSeconds=1)
    check(not got.get("Messages") and time.monotonic() - start >= 0.9, "empty long poll waits its time")

    code = error_code(lambda: sqs.get_queue_url(QueueName="py-missing"))
    check(code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"), f"missing queue error ({code})")
    sqs.purge_queue(QueueUrl=url)
    for u in urls:
        sqs.delete_queue(QueueUrl=u)


def dynamodb_group():
    ddb.create_table(
        TableName="py-sales",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    check("py-sales" in ddb.list_tables()["TableNames"], "create and list tables")
    ddb.get_waiter("table_exists").wait(TableName="py-sales")
    ddb.batch_write_item(
        RequestItems={"py-sales": [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)]}
    )
    ddb.put_item(TableName="py-sales", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "amount": {"N": "1.5"}})
    item = ddb.get_item(TableName="py-sales", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]
    check(item["amount"] == {"N": "1.5"}, "put and get item")
    updated = ddb.update_item(
        TableName="py-sales",
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET amount = amount + :d",
        ExpressionAttributeValues={":d": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    check(updated["Attributes"]["amount"] == {"N": "2.5"}, "update item")
    pages = ddb.get_paginator("query").paginate(
        TableName="py-sales",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "b"}},
        PaginationConfig={"PageSize": 10},
    )
    check(sum(len(p["Items"]) for p in pages) == 25, "query pages through 25 items")
    scanned = sum(p["Count"] for p in ddb.get_paginator("scan").paginate(TableName="py-sales", PaginationConfig={"PageSize": 7}))
    check(scanned == 26, "scan pages through the table")
    got = ddb.batch_get_item(RequestItems={"py-sales": {"Keys": [{"pk": {"S": "b"}, "sk": {"N": "3"}}]}})
    check(len(got["Responses"]["py-sales"]) == 1, "batch get")
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "py-sales", "Item": {"pk": {"S": "t"}, "sk": {"N": "1"}}}}])
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "py-sales", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}}}}])
    check(got["Responses"][0]["Item"]["pk"] == {"S": "t"}, "transactions")
    code = error_code(
        lambda: ddb.put_item(TableName="py-sales", Item={"pk": {"S": "a"}, "sk": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    )
    check(code == "ConditionalCheckFailedException", "conditional check error")
    check(error_code(lambda: ddb.describe_table(TableName="nope")) == "ResourceNotFoundException", "missing table error")
    check("TimeToLiveDescription" in ddb.describe_time_to_live(TableName="py-sales"), "describe TTL")
    arn = ddb.describe_table(TableName="py-sales")["Table"]["TableArn"]
    check(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [], "list tags of resource")
    ddb.delete_item(TableName="py-sales", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})

    stream_arn = streams.list_streams(TableName="py-sales")["Streams"][0]["StreamArn"]
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    # 25 batch puts, a put, an update, a transactional put and a delete.
    check(len(records) == 29 and records[-1]["eventName"] == "REMOVE", f"stream records ({len(records)})")
    ddb.delete_table(TableName="py-sales")


def cli_group():
    url = aws("sqs", "create-queue", "--queue-name", "cli-q")["QueueUrl"]
    aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    got = aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1")
    check(got["Messages"][0]["Body"] == "from the cli", "aws sqs send and receive")
    aws(
        "dynamodb", "create-table", "--table-name", "cli-t",
        "--key-schema", "AttributeName=pk,KeyType=HASH",
        "--attribute-definitions", "AttributeName=pk,AttributeType=S",
        "--billing-mode", "PAY_PER_REQUEST",
        "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE",
    )
    for i in range(5):
        aws("dynamodb", "put-item", "--table-name", "cli-t", "--item", json.dumps({"pk": {"S": f"k{i}"}}))
    scanned = aws("dynamodb", "scan", "--table-name", "cli-t", "--page-size", "2")
    check(scanned["Count"] == 5, "aws dynamodb scan pages with --page-size")
    listed = aws("dynamodbstreams", "list-streams", "--table-name", "cli-t")
    check(len(listed["Streams"]) == 1, "aws dynamodbstreams list-streams")


sqs_group()
dynamodb_group()
cli_group()
print("all boto3 and AWS CLI checks passed")
