package sqsd

import (
	"fmt"
	"net/http"
)

// apiError is one AWS-shaped error response.
//
// SQS speaks the AWS JSON 1.0 protocol with the awsQueryCompatible trait, so
// an error travels two ways at once: the body's "__type" names the modelled
// shape (aws-sdk-go-v2 maps it to its typed error, e.g.
// *types.QueueDoesNotExist), and the x-amzn-query-error header carries the
// legacy Query-protocol code and fault, which the SDK reports from
// ErrorCode() (e.g. "AWS.SimpleQueueService.NonExistentQueue"). The codes and
// HTTP statuses below are the ones the service model (the awsQueryError and
// httpError traits in the SDK's schemas) declares; errors the model does not
// carry (InvalidParameterValue, MissingParameter, ...) use the coral shape
// names AWS sends for them.
type apiError struct {
	status int    // HTTP status
	typ    string // body "__type"
	code   string // x-amzn-query-error code; also the code of a failed batch entry
	sender bool   // fault: Sender (true) or Receiver
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// outcome is the bounded metrics label for e.
func (e *apiError) outcome() string {
	if e == nil {
		return "ok"
	}
	return e.code
}

func newErr(status int, typ, code, format string, args ...any) *apiError {
	return &apiError{status: status, typ: typ, code: code, sender: status < 500, msg: fmt.Sprintf(format, args...)}
}

const (
	sqsNS   = "com.amazonaws.sqs#"
	coralNS = "com.amazon.coral.service#"
)

func errQueueDoesNotExist() *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
		"The specified queue does not exist.")
}

func errQueueNameExists(name, attr string) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"QueueNameExists", "QueueAlreadyExists",
		"A queue already exists with the same name and a different value for attribute %s (queue %q).", attr, name)
}

func errReceiptHandleIsInvalid(handle string) *apiError {
	return newErr(http.StatusNotFound, sqsNS+"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
		"The input receipt handle %q is not a valid receipt handle.", handle)
}

func errMessageNotInflight() *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight",
		"The message referred to isn't in flight.")
}

func errInvalidAttributeName(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"InvalidAttributeName", "InvalidAttributeName", format, args...)
}

func errInvalidAttributeValue(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"InvalidAttributeValue", "InvalidAttributeValue", format, args...)
}

func errInvalidMessageContents(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"InvalidMessageContents", "InvalidMessageContents", format, args...)
}

func errTooManyEntries(n int) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
		"Maximum number of entries per request are 10. You have sent %d.", n)
}

func errEmptyBatch() *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
		"There should be at least one SendMessageBatchRequestEntry in the request.")
}

func errBatchIDsNotDistinct(id string) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
		"Id %s repeated.", id)
}

func errInvalidBatchEntryID(id string) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
		"A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long (got %q).", id)
}

func errBatchTooLong(size, limit int) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
		"Batch requests cannot be longer than %d bytes. You have sent %d bytes.", limit, size)
}

func errUnsupportedOperation(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, sqsNS+"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", format, args...)
}

func errInvalidParameterValue(format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, coralNS+"InvalidParameterValueException", "InvalidParameterValue", format, args...)
}

func errMissingParameter(name string) *apiError {
	return newErr(http.StatusBadRequest, coralNS+"MissingParameterException", "MissingParameter",
		"The request must contain the parameter %s.", name)
}

func errInvalidAddress(addr string) *apiError {
	return newErr(http.StatusNotFound, sqsNS+"InvalidAddress", "InvalidAddress",
		"The address %q is not valid for this endpoint.", addr)
}

func errUnknownOperation(target string) *apiError {
	return newErr(http.StatusBadRequest, coralNS+"UnknownOperationException", "InvalidAction",
		"The action or operation requested is invalid (X-Amz-Target %q). Use the AWS JSON 1.0 protocol with X-Amz-Target: AmazonSQS.<Action>.", target)
}

func errSerialization(err error) *apiError {
	return newErr(http.StatusBadRequest, coralNS+"SerializationException", "SerializationException",
		"The request body is not valid JSON for this action: %v", err)
}

func errServiceUnavailable() *apiError {
	return newErr(http.StatusServiceUnavailable, coralNS+"ServiceUnavailableException", "ServiceUnavailable",
		"The embedded SQS server is shutting down.")
}
