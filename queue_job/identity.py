"""Identity keys: a job whose key matches a job already waiting is not enqueued again.

``record.with_delay(identity_key=identity_exact).export()``; ``identity_key``
also takes a string, or any function of the job returning one.
"""

import hashlib


def identity_exact_hasher(job_):
    """A sha1 fed with the model, method, record ids and all arguments."""
    hasher = hashlib.sha1()
    hasher.update(job_.model_name.encode("utf-8"))
    hasher.update(job_.method_name.encode("utf-8"))
    hasher.update(str(sorted(job_.recordset.ids)).encode("utf-8"))
    hasher.update(str(job_.args).encode("utf-8"))
    hasher.update(str(sorted(job_.kwargs.items())).encode("utf-8"))
    return hasher


def identity_exact(job_):
    """Identity key: same model, method, records and arguments.

    ``record.with_delay(identity_key=identity_exact).export()`` enqueues
    nothing when the same call already waits to run.
    """
    return identity_exact_hasher(job_).hexdigest()
