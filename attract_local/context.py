"""A Lambda context stand-in for handlers invoked in-process (tests, benchmarks)."""


class FakeLambdaContext:
    """The context attributes Powertools reads."""

    function_name = "attract-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:attract-local"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/attract-local"
    log_stream_name = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000
