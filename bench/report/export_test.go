package report

// Ms is ms, for the tests of package report_test.
var Ms = ms
