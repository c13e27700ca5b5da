"""The engine: where training runs and where a hosted model's inference units live.

``base.Engine`` is the one interface the service talks to (run a training, deploy / undeploy a
model, detect, report units); two implementations sit behind it:

* ``local.LocalEngine`` (the default): training in the calling job worker's thread, inference
  units as child processes of this server (``hosting.InferencePool``). It never imports Ray.
* ``ray_engine.RayEngine`` (``--engine ray``): training as a detached Ray actor that reads and
  writes the shared blob store, one Ray Serve application per hosted model version. Imported only
  when that engine is chosen (``pip install openlookout[ray]``).
"""
