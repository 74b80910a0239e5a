#!/bin/bash
# LocalStack ready hook: creates chatbench's FIFO job queue and its
# dead-letter queue, with the redrive policy, before the health check passes
# sqs as "running". Idempotent: CreateQueue with the same attributes is a no-op.
# Same attributes as `chatbench queue setup` (queuemode.Setup), which the
# gateway also runs on start: FIFO, explicit deduplication ids, 30 s
# visibility, redrive to the DLQ after 5 receives, 14-day DLQ retention.
set -euo pipefail

QUEUE=${CHATBENCH_QUEUE_NAME:-chatbench-jobs}
MAX_RECEIVE=${CHATBENCH_MAX_RECEIVE_COUNT:-5}
VISIBILITY=${CHATBENCH_VISIBILITY_TIMEOUT:-30}

awslocal sqs create-queue --queue-name "${QUEUE}-dlq.fifo" \
  --attributes FifoQueue=true,ContentBasedDeduplication=false,MessageRetentionPeriod=1209600 >/dev/null

DLQ_URL=$(awslocal sqs get-queue-url --queue-name "${QUEUE}-dlq.fifo" --query QueueUrl --output text)
DLQ_ARN=$(awslocal sqs get-queue-attributes --queue-url "$DLQ_URL" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)

cat >/tmp/chatbench-queue-attrs.json <<JSON
{
  "FifoQueue": "true",
  "ContentBasedDeduplication": "false",
  "VisibilityTimeout": "${VISIBILITY}",
  "RedrivePolicy": "{\"deadLetterTargetArn\":\"${DLQ_ARN}\",\"maxReceiveCount\":${MAX_RECEIVE}}"
}
JSON
awslocal sqs create-queue --queue-name "${QUEUE}.fifo" \
  --attributes file:///tmp/chatbench-queue-attrs.json >/dev/null

echo "chatbench: queues ready: ${QUEUE}.fifo -> ${QUEUE}-dlq.fifo after ${MAX_RECEIVE} receives"
