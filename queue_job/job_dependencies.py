"""The place of a Job in a graph: the jobs it waits for and the jobs waiting for it."""

from .engine.states import DONE, WAIT_DEPENDENCIES


class JobDependencies:
    """Parents and children of a Job, as Jobs or, until loaded, as uuids (a part of ``Job``)."""

    def add_depends(self, jobs):
        if self in jobs:
            raise ValueError("a job cannot depend on itself")
        self._depends_on_uuids |= {j.uuid for j in jobs}
        self._depends_on.update(jobs)
        for parent in jobs:
            parent._reverse_depends_on_uuids.add(self.uuid)
            parent._reverse_depends_on.add(self)
        if any(j.state != DONE for j in jobs):
            self.state = WAIT_DEPENDENCIES

    @property
    def depends_on(self):
        if not self._depends_on and self._depends_on_uuids:
            self._depends_on = self.load_many(self.env, self._depends_on_uuids)
        return self._depends_on

    @property
    def reverse_depends_on(self):
        if not self._reverse_depends_on and self._reverse_depends_on_uuids:
            # A plain set: the children loaded here have no other owner, a
            # WeakSet would lose them at once (the weak set only serves to
            # avoid parent <-> child cycles while a graph is being built).
            self._reverse_depends_on = self.load_many(self.env, self._reverse_depends_on_uuids)
        return set(self._reverse_depends_on)

    def _dependencies_value(self):
        value = {
            "depends_on": sorted(self._depends_on_uuids | {j.uuid for j in self._depends_on}),
            "reverse_depends_on": sorted(
                self._reverse_depends_on_uuids | {j.uuid for j in self._reverse_depends_on}
            ),
        }
        if self.on_error_specs:
            value["on_error"] = self.on_error_specs
        return value

    def _load_dependencies(self, dependencies):
        self._depends_on_uuids.update(dependencies.get("depends_on", []))
        self._reverse_depends_on_uuids.update(dependencies.get("reverse_depends_on", []))
        self.on_error_specs = list(dependencies.get("on_error") or [])

    def enqueue_waiting(self):
        """Children whose parents are all done become pending."""
        self.env["queue.job"]._job_wake_children(self.uuid)

    def cancel_dependent_jobs(self):
        self.env["queue.job"]._job_cancel_children(self.uuid)
