//! SQS through the query protocol (form parameters, XML answers), as older SDKs and tools send it.

use crate::support::start;

/// The text of the first `<name>` element.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_protocol_round_trip() {
    let server = start().await;
    let created = server
        .query("Action=CreateQueue&QueueName=legacy&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40&Tag.1.Key=team&Tag.1.Value=sales&Version=2012-11-05")
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("text/xml"));
    let url = element(&created.body, "QueueUrl").unwrap().to_owned();
    assert_eq!(url, format!("{}/000000000000/legacy", server.url()));

    let sent = server
        .query(&format!(
            "Action=SendMessage&QueueUrl={url}&MessageBody=caf%C3%A9+%26+%3Cxml%3E&MessageAttribute.1.Name=kind&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=x"
        ))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(
        element(&sent.body, "MD5OfMessageAttributes").is_some(),
        "{}",
        sent.body
    );

    let batch = server
        .query(&format!(
            "Action=SendMessageBatch&QueueUrl={url}&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two"
        ))
        .await;
    assert_eq!(
        batch.body.matches("<SendMessageBatchResultEntry>").count(),
        2,
        "{}",
        batch.body
    );

    // Addressed by path rather than by QueueUrl, as some clients do.
    let received = server
        .post_to(
            "/000000000000/legacy",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"Action=ReceiveMessage&MaxNumberOfMessages=10&AttributeName.1=All&MessageAttributeName.1=All",
        )
        .await;
    assert_eq!(received.status, 200, "{}", received.body);
    assert_eq!(
        received.body.matches("<Message>").count(),
        3,
        "{}",
        received.body
    );
    assert!(
        received
            .body
            .contains("<Body>café &amp; &lt;xml&gt;</Body>"),
        "{}",
        received.body
    );
    assert!(received
        .body
        .contains("<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>"));
    assert!(received.body.contains("<MessageAttribute><Name>kind</Name><Value><StringValue>x</StringValue><DataType>String</DataType></Value></MessageAttribute>"));
    let handle = element(&received.body, "ReceiptHandle").unwrap();
    let encoded: String = form_encode(handle);
    let deleted = server
        .query(&format!(
            "Action=DeleteMessage&QueueUrl={url}&ReceiptHandle={encoded}"
        ))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(
        deleted.body.contains("<DeleteMessageResponse"),
        "{}",
        deleted.body
    );

    let attributes = server
        .query(&format!(
            "Action=GetQueueAttributes&QueueUrl={url}&AttributeName.1=VisibilityTimeout"
        ))
        .await;
    assert!(
        attributes
            .body
            .contains("<Attribute><Name>VisibilityTimeout</Name><Value>40</Value></Attribute>"),
        "{}",
        attributes.body
    );
    let tags = server
        .query(&format!("Action=ListQueueTags&QueueUrl={url}"))
        .await;
    assert!(
        tags.body
            .contains("<Tag><Key>team</Key><Value>sales</Value></Tag>"),
        "{}",
        tags.body
    );
    let listed = server.query("Action=ListQueues").await;
    assert!(
        listed.body.contains(&format!("<QueueUrl>{url}</QueueUrl>")),
        "{}",
        listed.body
    );

    // The same request as a GET with the parameters in the query string.
    let get = server
        .raw(format!("GET /?Action=GetQueueUrl&QueueName=legacy HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n", server.addr).as_bytes())
        .await;
    assert_eq!(
        element(&get.body, "QueueUrl"),
        Some(url.as_str()),
        "{}",
        get.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_protocol_errors() {
    let server = start().await;
    let check = |form: &'static str, status: u16, code: &'static str| {
        let server = &server;
        async move {
            let raw = server.query(form).await;
            assert_eq!(raw.status, status, "{form}: {}", raw.body);
            assert!(raw.body.starts_with("<?xml"), "{}", raw.body);
            assert_eq!(
                element(&raw.body, "Code"),
                Some(code),
                "{form}: {}",
                raw.body
            );
            assert_eq!(element(&raw.body, "Type"), Some("Sender"));
            assert!(element(&raw.body, "Message").is_some());
            assert!(element(&raw.body, "RequestId").is_some());
        }
    };
    check(
        "Action=GetQueueUrl&QueueName=missing",
        400,
        "AWS.SimpleQueueService.NonExistentQueue",
    )
    .await;
    check("Action=SendMessage&QueueUrl=x", 400, "MissingParameter").await;
    check("Action=Frobnicate", 400, "InvalidAction").await;
    check("QueueName=x", 400, "MissingAction").await;
    check(
        "Action=ReceiveMessage&QueueUrl=http://h/000000000000/q&MaxNumberOfMessages=ten",
        400,
        "InvalidParameterValue",
    )
    .await;
    check(
        "Action=CreateQueue&QueueName=%FF",
        400,
        "InvalidParameterValue",
    )
    .await;
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
