import functools

from odoo import api, models

from ..delay import Delayable, DelayableRecordset
from ..utils import must_run_without_delay


class Base(models.AbstractModel):
    """Every model gets ``with_delay()`` and ``delayable()``."""

    _inherit = "base"

    def with_delay(
        self,
        priority=None,
        eta=None,
        max_retries=None,
        description=None,
        channel=None,
        identity_key=None,
        timeout=None,
        notify=None,
    ):
        """Run the next method call in the background.

        ``self.with_delay(priority=20, eta=3600).export()`` stores a job,
        in the current transaction, that calls ``export()`` on these records
        at least an hour from now. The call returns the Job.

        :param priority: smaller runs first (default 10)
        :param eta: datetime, timedelta or seconds: not before then
        :param max_retries: tries before failing (default 5; 0 = forever)
        :param description: label of the job (default: the method's docstring)
        :param channel: channel name, overriding the job function's
        :param identity_key: a string, or a function of the job (see
            ``job.identity_exact``): no new job while one with the same key
            waits to run
        :param timeout: soft time limit in seconds (see the job function's
            time limits); the hard limit is 30 s later
        :param notify: tell the user when the job is done or failed for
            good (default: the job function's ``notify``); see
            ``odoo.addons.queue_job.progress``
        """
        return DelayableRecordset(
            self,
            priority=priority,
            eta=eta,
            max_retries=max_retries,
            description=description,
            channel=channel,
            identity_key=identity_key,
            timeout=timeout,
            notify=notify,
        )

    def delayable(
        self,
        priority=None,
        eta=None,
        max_retries=None,
        description=None,
        channel=None,
        identity_key=None,
        timeout=None,
        notify=None,
    ):
        """A Delayable: build a job (and a graph with ``chain``/``group``), then ``delay()``.

        ``self.delayable(priority=5).export().on_done(other.delayable().notify()).delay()``
        """
        return Delayable(
            self,
            priority=priority,
            eta=eta,
            max_retries=max_retries,
            description=description,
            channel=channel,
            identity_key=identity_key,
            timeout=timeout,
            notify=notify,
        )

    def _patch_job_auto_delay(self, method_name, context_key=None):
        """A replacement for ``method_name`` that enqueues the call instead of running it.

        Use from ``_register_hook`` with ``_patch_method``. With a
        ``context_key``, only calls made with that key true in the context
        are delayed. A method ``<method_name>_job_options(*args, **kwargs)``
        may return the ``with_delay()`` options.
        """

        def auto_delay_wrapper(self, *args, **kwargs):
            wants_delay = self.env.context.get(context_key) if context_key else True
            if self.env.context.get("job_uuid") or not wants_delay or must_run_without_delay(self.env):
                return auto_delay_wrapper.origin(self, *args, **kwargs)
            name = auto_delay_wrapper.origin.__name__
            options_method = getattr(self, f"{name}_job_options", None)
            options = options_method(*args, **kwargs) if options_method else {}
            return getattr(self.with_delay(**options), name)(*args, **kwargs)

        origin = getattr(self, method_name)
        return functools.update_wrapper(auto_delay_wrapper, origin)

    @classmethod
    def _patch_method(cls, name, method):
        origin = getattr(cls, name)
        method.origin = origin
        wrapped = api.propagate(origin, method)
        wrapped.origin = origin
        setattr(cls, name, wrapped)

    @api.model
    def _job_store_values(self, job):
        """Extra ``queue.job`` values for a job of this model (hook; see also
        ``_job_store_values_for_<method>``). Only stored fields are kept."""
        return {}

    @api.model
    def _job_prepare_context_before_enqueue_keys(self):
        """Context keys a job keeps from the context it was enqueued in."""
        return ("tz", "lang", "allowed_company_ids", "force_company", "active_test")

    def _job_prepare_context_before_enqueue(self):
        keys = self._job_prepare_context_before_enqueue_keys()
        return {key: value for key, value in self.env.context.items() if key in keys}
