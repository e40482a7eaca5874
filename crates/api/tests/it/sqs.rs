//! SQS through `aws-sdk-sqs` (AWS JSON 1.0): every operation, queue URL shapes, long polling and
//! the error shapes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};

use crate::support::{start, start_virtual};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_operations() {
    let server = start().await;
    let sqs = server.sqs();
    let url = sqs
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .tags("team", "sales")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(url, format!("{}/000000000000/orders", server.url()));
    for name in ["orders-dlq", "other"] {
        sqs.create_queue().queue_name(name).send().await.unwrap();
    }
    let got = sqs
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url.as_deref(), Some(url.as_str()));

    let listed = sqs
        .list_queues()
        .queue_name_prefix("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.queue_urls().len(), 2);
    // Paging: one URL per page, then the token leads to the next.
    let first = sqs.list_queues().max_results(1).send().await.unwrap();
    assert_eq!(first.queue_urls().len(), 1);
    let token = first.next_token.expect("a next token");
    let second = sqs
        .list_queues()
        .max_results(1)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.queue_urls().len(), 1);
    assert_ne!(first.queue_urls, second.queue_urls);

    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes.unwrap();
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "45");
    assert_eq!(
        attributes[&QueueAttributeName::QueueArn],
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );

    let dlq_url = format!("{}/000000000000/orders-dlq", server.url());
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":"3"}"#,
        )
        .send()
        .await
        .unwrap();
    let sources = sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq_url)
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls(), std::slice::from_ref(&url));

    sqs.tag_queue()
        .queue_url(&url)
        .tags("env", "dev")
        .send()
        .await
        .unwrap();
    sqs.untag_queue()
        .queue_url(&url)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
    assert_eq!(
        tags.tags,
        Some(HashMap::from([("env".to_owned(), "dev".to_owned())]))
    );

    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let error = sqs
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap_err();
    assert!(
        error.as_service_error().unwrap().is_queue_does_not_exist(),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_operations() {
    let server = start().await;
    let sqs = server.sqs();
    let url = sqs
        .create_queue()
        .queue_name("work")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("hello")
        .message_attributes(
            "kind",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("greeting")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "blob",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(aws_sdk_sqs::primitives::Blob::new(vec![0u8, 1, 2, 255]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // The SDK checks both MD5s itself; a wrong one fails the call above.
    assert_eq!(
        sent.md5_of_message_body.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );

    let batch = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("one")
                .build()
                .unwrap(),
        )
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("b")
                .message_body("two")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful().len(), 2);
    assert!(batch.failed().is_empty());

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 3);
    let hello = messages.iter().find(|m| m.body() == Some("hello")).unwrap();
    let attributes = hello.message_attributes.as_ref().unwrap();
    assert_eq!(attributes["kind"].string_value(), Some("greeting"));
    assert_eq!(
        attributes["blob"].binary_value().unwrap().as_ref(),
        &[0u8, 1, 2, 255]
    );
    assert_eq!(
        hello.attributes.as_ref().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1"
    );

    let handles: Vec<&str> = messages
        .iter()
        .map(|m| m.receipt_handle().unwrap())
        .collect();
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(handles[0])
        .visibility_timeout(60)
        .send()
        .await
        .unwrap();
    let changed = sqs
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("x")
                .receipt_handle(handles[1])
                .visibility_timeout(60)
                .build()
                .unwrap(),
        )
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("bad")
                .receipt_handle("not-a-handle")
                .visibility_timeout(60)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(changed.successful().len(), 1);
    assert_eq!(changed.failed().len(), 1);
    assert_eq!(changed.failed()[0].id(), "bad");
    assert!(changed.failed()[0].sender_fault());

    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(handles[0])
        .send()
        .await
        .unwrap();
    let deleted = sqs
        .delete_message_batch()
        .queue_url(&url)
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("1")
                .receipt_handle(handles[1])
                .build()
                .unwrap(),
        )
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("2")
                .receipt_handle(handles[2])
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.successful().len(), 2);

    let counts = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(
        counts[&QueueAttributeName::ApproximateNumberOfMessages],
        "0"
    );
    assert_eq!(
        counts[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible],
        "0"
    );
}

/// Requests addressed by every queue URL shape AWS uses reach the same queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_every_queue_url_shape() {
    let server = start().await;
    let sqs = server.sqs();
    sqs.create_queue()
        .queue_name("shapes")
        .send()
        .await
        .unwrap();
    let shapes = [
        "https://sqs.us-east-1.amazonaws.com/000000000000/shapes".to_owned(),
        "https://queue.amazonaws.com/000000000000/shapes".to_owned(),
        "http://localhost:4566/000000000000/shapes".to_owned(),
        "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/shapes".to_owned(),
        format!("{}/000000000000/shapes", server.url()),
    ];
    for url in &shapes {
        sqs.send_message()
            .queue_url(url)
            .message_body(url)
            .send()
            .await
            .unwrap();
    }
    let count = sqs
        .get_queue_attributes()
        .queue_url(&shapes[0])
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
        .clone();
    assert_eq!(count, shapes.len().to_string());
}

/// A waiting receive returns as soon as a message arrives, and other requests are served while
/// it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_returns_when_a_message_arrives() {
    let server = start().await;
    let sqs = server.sqs();
    let url = sqs
        .create_queue()
        .queue_name("poll")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let started = Instant::now();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let sqs = sqs.clone();
            let url = url.clone();
            tokio::spawn(async move {
                sqs.receive_message()
                    .queue_url(url)
                    .wait_time_seconds(20)
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    // More waiting receives than worker threads: the send below is still served.
    let sender = server.sqs();
    for i in 0..4 {
        sender
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    let mut received = 0;
    for waiter in waiters {
        received += waiter.await.unwrap().messages().len();
    }
    assert_eq!(received, 4);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

/// An empty long poll ends when its wait has passed on the engine's (virtual) clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_ends_on_virtual_time() {
    let (server, clock) = start_virtual().await;
    let sqs = server.sqs();
    let url = sqs
        .create_queue()
        .queue_name("idle")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let waiter = tokio::spawn({
        let sqs = sqs.clone();
        async move {
            sqs.receive_message()
                .queue_url(url)
                .wait_time_seconds(20)
                .send()
                .await
                .unwrap()
        }
    });
    // Move virtual time until the poll notices; each move wakes it to re-check its deadline.
    let mut moved = 0;
    while !waiter.is_finished() {
        clock.advance(Duration::from_secs(5));
        moved += 1;
        assert!(moved < 1_000, "the long poll never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(waiter.await.unwrap().messages().is_empty());
    // The empty poll counts once toward NumberOfEmptyReceives.
    let activity = server.services.sqs.take_activity();
    let idle: Vec<_> = activity.iter().filter(|a| a.queue_name == "idle").collect();
    assert_eq!(idle.len(), 1, "{activity:?}");
    assert_eq!(idle[0].empty_receives, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_move_tasks() {
    let server = start().await;
    let sqs = server.sqs();
    let source = sqs
        .create_queue()
        .queue_name("src")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq = sqs
        .create_queue()
        .queue_name("src-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.set_queue_attributes()
        .queue_url(&source)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:src-dlq","maxReceiveCount":"1"}"#,
        )
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&dlq)
        .message_body("dead")
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:sqs:us-east-1:000000000000:src-dlq";
    let started = sqs
        .start_message_move_task()
        .source_arn(arn)
        .destination_arn("arn:aws:sqs:us-east-1:000000000000:src")
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap();
    let handle = started.task_handle.unwrap();
    let tasks = sqs
        .list_message_move_tasks()
        .source_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.results().len(), 1);
    assert_eq!(tasks.results()[0].source_arn(), Some(arn));
    match sqs
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
    {
        Ok(cancelled) => assert!(cancelled.approximate_number_of_messages_moved <= 1),
        // The task may have finished its one message already; then it cannot be cancelled.
        Err(e) => assert!(
            e.as_service_error()
                .unwrap()
                .is_resource_not_found_exception(),
            "{e:?}"
        ),
    }
    let missing = sqs
        .list_message_move_tasks()
        .source_arn("arn:aws:sqs:us-east-1:000000000000:nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{missing:?}"
    );
}

/// Errors of the JSON protocol: the SDK's typed errors, and the raw `__type` and
/// `x-amzn-query-error` it reads them from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_error_shapes() {
    let server = start().await;
    let sqs = server.sqs();
    let error = sqs
        .send_message()
        .queue_url(format!("{}/000000000000/missing", server.url()))
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert!(
        error.as_service_error().unwrap().is_queue_does_not_exist(),
        "{error:?}"
    );

    let raw = server
        .json("AmazonSQS.GetQueueUrl", r#"{"QueueName":"missing"}"#)
        .await;
    assert_eq!(raw.error_type(), "400 com.amazonaws.sqs#QueueDoesNotExist");
    assert_eq!(
        raw.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );

    let raw = server
        .json("AmazonSQS.SendMessage", r#"{"QueueUrl":"q"}"#)
        .await;
    assert_eq!(raw.error_type(), "400 com.amazonaws.sqs#MissingParameter");
    let raw = server
        .json("AmazonSQS.CreateQueue", r#"{"QueueName":7}"#)
        .await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazonaws.sqs#SerializationException"
    );
    let raw = server.json("AmazonSQS.Frobnicate", "{}").await;
    assert_eq!(raw.error_type(), "400 com.amazonaws.sqs#InvalidAction");
    let raw = server
        .json("AmazonSQS.CreateQueue", r#"{"QueueName":"bad name!"}"#)
        .await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazonaws.sqs#InvalidParameterValue"
    );
}
