"""``RayEngine``: trainings and inference units on a Ray cluster (``--engine ray``).

Imported only when that engine is chosen (it imports Ray; ``pip install 'openlookout[ray]'``).

* Training: a detached, named Ray actor (``ray_workers.TrainingRunner``, asking for
  ``training_cpus`` CPUs and, when the cluster has GPUs, ``training_gpus`` of them) runs the
  ``TrainingWork`` on a cluster node against the shared storage. The job worker polls it every
  second, passes on its progress sentences and returns its outcome. When this server stops the
  actor runs on; whichever server takes the job next finds it by name and waits for it (a
  training is never run twice at once).
* Hosting: one Ray Serve application per model version (``openlookout-<installation>-model-<id>``)
  whose deployment's replicas are the inference units (``ray_workers.InferenceUnit``, each with
  ``unit_cpus`` CPUs), autoscaled by Serve between MinInferenceUnits and MaxInferenceUnits. The
  application lives in the cluster, not in this server: another server of the installation, or
  this one after a restart, reaches it by name, and Ray replaces a replica that dies.
* DetectAnomalies goes through the application's handle. Like the local pool this server sheds a
  request with ``PoolBusy`` when the requests it already has in flight would keep the running
  replicas busy for more than ``detect_queue_s`` seconds, retries a request once when its replica
  died under it, and gives up after ``ANSWER_TIMEOUT_S``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import serve
from ray._private import auto_init_hook
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError
from ray.serve.config import ProxyLocation
from ray.serve.exceptions import BackPressureError

from openlookout.engine.base import (
    Deployment,
    EngineStopped,
    HostedUnits,
    Progress,
    StorageAddress,
    TrainingLost,
    TrainingWork,
)
from openlookout.engine.ray_workers import LOAD_FAILED, InferenceUnit, TrainingRunner
from openlookout.hosting.pool import HostingError, PoolBusy

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 60.0
START_TIMEOUT_S = 300.0
POLL_S = 1.0
STATUS_TTL_S = 2.0
MAX_WAITING = 256
DEPLOYMENT = "unit"
# Serve application states in which the handle reaches (or will soon reach) replicas.
_ALIVE = {"RUNNING", "DEPLOYING", "UNHEALTHY"}

_RemoteRunner = ray.remote(TrainingRunner)

# Ray's calls start a fresh local Ray when none is joined. A server must never do that: after
# ``ray.shutdown`` Serve's handle threads may still call Ray once more while they wind down.
auto_init_hook.enable_auto_connect = False


@dataclass(frozen=True)
class RayOptions:
    """The engine's settings (from ``Settings``, see docs/scale-out.md)."""

    address: str
    namespace: str
    # The installation's id (the shared database's): keeps names apart on a shared cluster.
    installation: str
    storage: StorageAddress
    training_cpus: float = 2.0
    # -1: one GPU when the cluster has any (torch then trains on CUDA), else none.
    training_gpus: float = -1.0
    unit_cpus: float = 1.0
    detect_queue_s: float = 3.0
    unit_limit: int | None = None
    start_timeout_s: float = START_TIMEOUT_S


@dataclass
class _Hosted:
    """This server's view of one hosted model: its handle and its requests in flight."""

    handle: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    # moving average of the seconds a replica takes for one image (None until measured)
    service_s: float | None = None

    def observe(self, seconds: float) -> None:
        with self.lock:
            previous = self.service_s
            self.service_s = seconds if previous is None else 0.8 * previous + 0.2 * seconds


# One Ray connection per process, shared by every engine in it (tests run several servers).
_CONNECTION_LOCK = threading.Lock()
_CONNECTIONS = 0


def _join(address: str, namespace: str) -> None:
    global _CONNECTIONS
    with _CONNECTION_LOCK:
        if not ray.is_initialized():
            ray.init(address=address, namespace=namespace, log_to_driver=False, logging_level=logging.WARNING)
        _CONNECTIONS += 1
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    serve.start(proxy_location=ProxyLocation.Disabled)


def _leave() -> None:
    global _CONNECTIONS
    with _CONNECTION_LOCK:
        _CONNECTIONS -= 1
        if _CONNECTIONS <= 0 and ray.is_initialized():
            _CONNECTIONS = 0
            ray.shutdown()


class RayEngine:
    """Trainings as Ray actors, hosted models as Ray Serve applications (see the module doc)."""

    name = "ray"

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._hosted: dict[int, _Hosted] = {}
        self._statuses: dict[str, tuple[str, int, str]] = {}
        self._statuses_at = 0.0
        self._waiters = ThreadPoolExecutor(max_workers=64, thread_name_prefix="openlookout-ray-detect")

    @classmethod
    def connect(cls, options: RayOptions) -> RayEngine:
        """Join the cluster at ``options.address`` (and start Serve there if it is not running)."""
        _join(options.address, options.namespace)
        return cls(options)

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def unit_limit(self) -> int | None:
        return self.options.unit_limit

    def shutdown(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._waiters.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            hosted, self._hosted = list(self._hosted.values()), {}
        for model in hosted:  # stop the handles' routers before leaving the cluster
            with contextlib.suppress(Exception):
                model.handle.shutdown()
        _leave()

    # -- names --------------------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        return f"openlookout-{self.options.installation}-"

    def app_name(self, model_id: int) -> str:
        """The Serve application hosting ``model_id``."""
        return f"{self._prefix}model-{model_id}"

    def training_name(self, key: str) -> str:
        """The detached actor running the training ``key``."""
        return f"{self._prefix}train-{key}"

    # -- training -----------------------------------------------------------------------------

    def run_training(self, key: str, work: TrainingWork, progress: Progress) -> dict[str, Any]:
        if self.closed:
            raise EngineStopped("the server is stopping")
        cpus = self.options.training_cpus
        gpus = self._training_gpus()
        try:
            runner: Any = _RemoteRunner.options(
                name=self.training_name(key),
                namespace=self.options.namespace,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=cpus,
                num_gpus=gpus,
                max_restarts=0,
                max_concurrency=4,
            ).remote()
            started = runner.start.remote(work, self.options.storage, max(1, math.ceil(cpus)))
            if not ray.wait([started], timeout=2.0)[0]:
                place = f"{cpus:g} CPUs" + (f" and {gpus:g} GPUs" if gpus else "")
                progress(f"Waiting for the Ray cluster to place the training ({place}).")
            self._wait_for(started)
            seen = 0
            while True:
                messages, state, outcome, error = self._wait_for(runner.poll.remote(seen))
                seen += len(messages)
                if messages:
                    progress(messages[-1])
                if state == "done" and outcome is not None:
                    ray.kill(runner)
                    return dict(outcome)
                if state == "error":
                    ray.kill(runner)
                    raise TrainingLost(error)
                if self._stop.wait(POLL_S):
                    raise EngineStopped("the server is stopping; the training goes on in the Ray cluster")
        except RayActorError as exc:
            raise TrainingLost(f"the Ray actor running the training stopped ({_first_line(exc)})") from None

    def _wait_for(self, ref: Any) -> Any:
        """``ray.get(ref)``, checking every second whether the server is stopping."""
        while not ray.wait([ref], timeout=POLL_S)[0]:
            if self._stop.is_set():
                raise EngineStopped("the server is stopping; the training goes on in the Ray cluster")
        return ray.get(ref)

    def _training_gpus(self) -> float:
        wanted = self.options.training_gpus
        if wanted >= 0:
            return wanted
        return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0

    def cancel_training(self, key: str) -> None:
        with contextlib.suppress(ValueError):  # no such actor: nothing runs
            ray.kill(ray.get_actor(self.training_name(key), namespace=self.options.namespace))

    # -- hosting ------------------------------------------------------------------------------

    def deploy(self, deployment: Deployment) -> None:
        if self.closed:
            raise HostingError("the server is shutting down")
        try:
            self._deploy(deployment)
        except HostingError:
            raise
        except Exception as exc:  # Ray's own failures (cluster gone, bad options): the same error
            raise HostingError(f"Ray Serve could not host the model: {_first_line(exc)}") from exc
        with self._lock:
            self._hosted.pop(deployment.model_id, None)
            self._statuses_at = 0.0

    def _deploy(self, deployment: Deployment) -> None:
        """Run the model's application (Serve keeps replicas whose code and arguments are the
        same) and wait until its minimum replicas answer."""
        name = self.app_name(deployment.model_id)
        threads = deployment.threads_per_unit or max(1, math.ceil(self.options.unit_cpus))
        unit = serve.deployment(
            name=DEPLOYMENT,
            ray_actor_options={"num_cpus": self.options.unit_cpus},
            max_ongoing_requests=2,
            max_queued_requests=MAX_WAITING,
            max_constructor_retry_count=2,
            health_check_period_s=5.0,
            graceful_shutdown_timeout_s=10.0,
            **_scaling(deployment.min_units, deployment.max_units),
        )(InferenceUnit)
        application = unit.bind(self.options.storage, deployment.model_blob, threads, deployment.colors)
        serve.run_many(
            [serve.RunTarget(target=application, name=name, route_prefix=None)],
            wait_for_applications_running=False,
        )
        self._wait_running(name, deployment)

    def _wait_running(self, name: str, deployment: Deployment) -> None:
        deadline = time.monotonic() + self.options.start_timeout_s
        while True:
            status, _, message = self._app_statuses(fresh=True).get(name, ("NOT_STARTED", 0, ""))
            if status == "RUNNING":
                return
            if status == "DEPLOY_FAILED":
                serve.delete(name, _blocking=False)
                raise HostingError(_failure_reason(message))
            if time.monotonic() > deadline:
                serve.delete(name, _blocking=False)
                raise HostingError(
                    f"the inference units did not start within {self.options.start_timeout_s:.0f} s "
                    f"(each needs {self.options.unit_cpus:g} CPUs of the Ray cluster; "
                    f"{deployment.min_units} must run)"
                )
            if self._stop.wait(0.25):
                raise HostingError("the server is shutting down")

    def is_deployed(self, model_id: int) -> bool:
        if self.closed:
            return False
        status = self._app_statuses().get(self.app_name(model_id))
        return status is not None and status[0] in _ALIVE

    def undeploy(self, model_id: int) -> None:
        with self._lock:
            hosted = self._hosted.pop(model_id, None)
            self._statuses_at = 0.0
        if hosted is not None:
            with contextlib.suppress(Exception):
                hosted.handle.shutdown()
        name = self.app_name(model_id)
        if name in self._app_statuses(fresh=True):
            serve.delete(name, _blocking=True)

    def submit_detect(
        self, model_id: int, data: bytes, width: int, height: int, *, heatmap: bool = False
    ) -> Future[dict[str, Any]]:
        if self.closed:
            raise HostingError("the server is shutting down")
        try:
            hosted = self._hosted_model(model_id)
            units = max(1, self._running_units(model_id))
        except Exception as exc:  # the application went away (stopped through another server)
            raise HostingError(
                f"the model's Ray Serve application is not reachable: {_first_line(exc)}"
            ) from exc
        with hosted.lock:
            waiting = max(0, hosted.in_flight - units)
            if waiting >= MAX_WAITING:
                raise PoolBusy(f"{MAX_WAITING} requests are already waiting for this model")
            expected = (waiting + 1) * hosted.service_s / units if hosted.service_s else 0.0
            if expected > self.options.detect_queue_s:
                raise PoolBusy(
                    f"{waiting} requests are waiting, about {expected:.1f} s of work for its "
                    f"{units} inference units"
                )
            hosted.in_flight += 1
        future: Future[dict[str, Any]] = Future()
        request = (data, width, height, heatmap)
        try:
            response = hosted.handle.remote(*request)
            self._waiters.submit(self._answer, hosted, request, response, future)
        except BaseException:
            with hosted.lock:
                hosted.in_flight -= 1
            raise
        return future

    def _answer(self, hosted: _Hosted, request: tuple[Any, ...], response: Any, future: Future[Any]) -> None:
        """Wait for a replica's answer and complete ``future`` with it (see the module doc)."""
        try:
            for attempt in (1, 2):
                try:
                    kind, payload, seconds = response.result(timeout_s=ANSWER_TIMEOUT_S)
                except BackPressureError:
                    future.set_exception(PoolBusy("too many requests are waiting for this model"))
                    return
                except (RayActorError, ActorUnavailableError):
                    if attempt == 2 or self.closed:
                        future.set_exception(HostingError("the inference unit stopped while answering"))
                        return
                    log.warning("an inference unit died while answering; asking another")
                    response = hosted.handle.remote(*request)
                    continue
                except (TimeoutError, GetTimeoutError):
                    future.set_exception(
                        HostingError(f"no inference unit answered within {ANSWER_TIMEOUT_S:.0f} s")
                    )
                    return
                except Exception as exc:
                    future.set_exception(HostingError(f"{type(exc).__name__}: {_first_line(exc)}"))
                    return
                if kind == "ok":
                    hosted.observe(float(seconds))
                    future.set_result(payload)
                else:
                    future.set_exception(HostingError(str(payload)))
                return
        finally:
            with hosted.lock:
                hosted.in_flight -= 1

    def hosted(self) -> dict[int, HostedUnits]:
        found: dict[int, HostedUnits] = {}
        if self.closed:
            return found
        marker = f"{self._prefix}model-"
        for name, (status, running, _) in self._app_statuses().items():
            if not name.startswith(marker) or status not in _ALIVE:
                continue
            try:
                model_id = int(name[len(marker) :])
            except ValueError:
                continue
            with self._lock:
                hosted = self._hosted.get(model_id)
            in_flight = hosted.in_flight if hosted is not None else 0
            found[model_id] = HostedUnits(units=running, waiting=max(0, in_flight - running))
        return found

    def replica_pid(self, model_id: int) -> int:
        """The process id of one of the model's replicas (tests kill it)."""
        return int(self._hosted_model(model_id).handle.pid.remote().result(timeout_s=ANSWER_TIMEOUT_S))

    # -- status -------------------------------------------------------------------------------

    def _hosted_model(self, model_id: int) -> _Hosted:
        with self._lock:
            hosted = self._hosted.get(model_id)
            if hosted is None:
                hosted = _Hosted(serve.get_app_handle(self.app_name(model_id)))
                self._hosted[model_id] = hosted
            return hosted

    def _running_units(self, model_id: int) -> int:
        return self._app_statuses().get(self.app_name(model_id), ("", 0, ""))[1]

    def _app_statuses(self, *, fresh: bool = False) -> dict[str, tuple[str, int, str]]:
        """(status, running replicas, message) of every Serve application, at most
        ``STATUS_TTL_S`` old unless ``fresh``."""
        with self._lock:
            if not fresh and time.monotonic() - self._statuses_at < STATUS_TTL_S:
                return self._statuses
        statuses: dict[str, tuple[str, int, str]] = {}
        for name, app in serve.status().applications.items():
            running = sum(
                count
                for d in app.deployments.values()
                for state, count in d.replica_states.items()
                if str(getattr(state, "value", state)) == "RUNNING"
            )
            messages = [app.message, *(d.message for d in app.deployments.values())]
            statuses[name] = (str(app.status.value), running, "\n".join(m for m in messages if m))
        with self._lock:
            self._statuses, self._statuses_at = statuses, time.monotonic()
        return statuses


def _scaling(min_units: int, max_units: int) -> dict[str, Any]:
    """Serve's replica settings: a fixed count, or autoscaling between the two (like the local
    pool: grow soon after requests queue, shrink after 30 s with less to do)."""
    if max_units <= min_units:
        return {"num_replicas": min_units}
    return {
        "autoscaling_config": {
            "min_replicas": min_units,
            "max_replicas": max_units,
            "target_ongoing_requests": 1,
            "upscale_delay_s": 1.0,
            "downscale_delay_s": 30.0,
            "metrics_interval_s": 1.0,
            "look_back_period_s": 3.0,
        }
    }


def _failure_reason(message: str) -> str:
    """The line of Serve's failure message that says why (the unit's own words when it has them)."""
    at = message.find(LOAD_FAILED)
    if at >= 0:
        return message[at:].splitlines()[0].strip()
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return (lines[0] if lines else "the Ray Serve application failed to deploy")[:500]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
