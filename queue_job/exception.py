"""Exceptions that steer what happens to a job."""


class BaseQueueJobError(Exception):
    """Root of every error raised by the job queue."""


class JobError(BaseQueueJobError):
    """Something went wrong with a job."""


class NoSuchJobError(JobError):
    """No job has this uuid (it may have been vacuumed)."""


class FailedJobError(JobError):
    """Fail the job now, without retrying: a person has to look at it."""


class RetryableJobError(JobError):
    """Try the job again later.

    ``seconds``: when to retry; by default the job function's retry pattern
    decides, or 10 minutes. ``ignore_retry``: do not count this try against
    ``max_retries`` (for "not yet" conditions that are not failures).
    """

    def __init__(self, msg, seconds=None, ignore_retry=False):
        super().__init__(msg)
        self.seconds = seconds
        self.ignore_retry = ignore_retry


class ChannelNotFound(BaseQueueJobError):
    """A channel name that is not configured."""


class JobTimeoutError(JobError):
    """The job ran past its soft time limit (it may catch this to clean up)."""

    def __init__(self, msg="The job ran past its time limit"):
        super().__init__(msg)


class JobCancelledError(JobError):
    """The job was cancelled (or stopped) while it was running: its work is rolled back."""

    def __init__(self, msg="The job was cancelled while it was running"):
        super().__init__(msg)
