package sqsd

// Request and response bodies of the AWS JSON 1.0 protocol. Member names are
// the service model's (note CreateQueue's lower-case "tags" and
// ListDeadLetterSourceQueues' "queueUrls").

type attributeValue struct {
	DataType         *string  `json:"DataType,omitempty"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

type createQueueInput struct {
	QueueName  string
	Attributes map[string]string
	Tags       map[string]string `json:"tags"`
}

type queueURLOutput struct {
	QueueUrl string
}

type getQueueURLInput struct {
	QueueName              string
	QueueOwnerAWSAccountId string
}

// queueURLInput is the QueueUrl of a request that acts on one queue;
// embedded, it lets Server.onQueue find the queue of any such request.
type queueURLInput struct {
	QueueUrl string
}

func (in queueURLInput) queueURL() string { return in.QueueUrl }

type listQueuesInput struct {
	QueueNamePrefix string
	NextToken       string
	MaxResults      *int
}

type listQueuesOutput struct {
	QueueUrls []string `json:",omitempty"`
	NextToken string   `json:",omitempty"`
}

type listDLQSourcesInput struct {
	QueueUrl   string
	NextToken  string
	MaxResults *int
}

type listDLQSourcesOutput struct {
	QueueUrls []string `json:"queueUrls"`
	NextToken string   `json:",omitempty"`
}

type getQueueAttributesInput struct {
	QueueUrl       string
	AttributeNames []string
}

type attributesOutput struct {
	Attributes map[string]string `json:",omitempty"`
}

type setQueueAttributesInput struct {
	queueURLInput
	Attributes map[string]string
}

type tagQueueInput struct {
	queueURLInput
	Tags map[string]string
}

type untagQueueInput struct {
	queueURLInput
	TagKeys []string
}

type tagsOutput struct {
	Tags map[string]string `json:",omitempty"`
}

type sendMessageInput struct {
	queueURLInput
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]attributeValue
	MessageSystemAttributes map[string]attributeValue
	MessageDeduplicationId  *string
	MessageGroupId          *string
}

type sendMessageOutput struct {
	MD5OfMessageBody             string
	MD5OfMessageAttributes       string `json:",omitempty"`
	MD5OfMessageSystemAttributes string `json:",omitempty"`
	MessageId                    string
	SequenceNumber               string `json:",omitempty"`
}

type sendMessageBatchEntry struct {
	Id                      string
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]attributeValue
	MessageSystemAttributes map[string]attributeValue
	MessageDeduplicationId  *string
	MessageGroupId          *string
}

type sendMessageBatchInput struct {
	queueURLInput
	Entries []sendMessageBatchEntry
}

type sendMessageBatchResultEntry struct {
	Id string
	sendMessageOutput
}

type batchResultErrorEntry struct {
	Id          string
	SenderFault bool
	Code        string
	Message     string `json:",omitempty"`
}

type sendMessageBatchOutput struct {
	Successful []sendMessageBatchResultEntry
	Failed     []batchResultErrorEntry
}

type receiveMessageInput struct {
	QueueUrl                    string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	MaxNumberOfMessages         *int
	VisibilityTimeout           *int
	WaitTimeSeconds             *int
	ReceiveRequestAttemptId     string
}

type wireMessage struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string         `json:",omitempty"`
	MD5OfMessageAttributes string                    `json:",omitempty"`
	MessageAttributes      map[string]attributeValue `json:",omitempty"`
}

type receiveMessageOutput struct {
	Messages []wireMessage `json:",omitempty"`
}

type deleteMessageInput struct {
	queueURLInput
	ReceiptHandle string
}

type changeVisibilityInput struct {
	queueURLInput
	ReceiptHandle     string
	VisibilityTimeout *int
}

type deleteMessageBatchInput struct {
	queueURLInput
	Entries []deleteBatchEntry
}

type deleteBatchEntry struct {
	Id            string
	ReceiptHandle string
}

type changeVisibilityBatchInput struct {
	queueURLInput
	Entries []changeVisibilityBatchEntry
}

type changeVisibilityBatchEntry struct {
	Id                string
	ReceiptHandle     string
	VisibilityTimeout *int
}

// batchEntry is an entry of a batch call answered by entry id (idBatch).
type batchEntry interface{ entryID() string }

func (e deleteBatchEntry) entryID() string           { return e.Id }
func (e changeVisibilityBatchEntry) entryID() string { return e.Id }

type batchIDEntry struct {
	Id string
}

type idBatchOutput struct {
	Successful []batchIDEntry
	Failed     []batchResultErrorEntry
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

type emptyOutput struct{}
