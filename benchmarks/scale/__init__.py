"""Scale benchmark: ``cloudlb run`` against an emulated cloud, every cloud request counted at the server side.

Run ``python -m benchmarks.scale --provider both --sizes 10,100`` (see ``__main__``).
The pieces, one concern each:

* ``classify``: what one HTTP request to the cloud is (operation; read, write or operation poll);
* ``counting``: the counting reverse proxy ("door") in front of the emulated cloud;
* ``cloud_host``: the process that runs the emulated cloud, its doors and its inspector;
  ``inspection`` checks the cloud's state there; ``cloud`` is the benchmark's handle on that process;
* ``controller``: ``cloudlb run`` as a subprocess, with its metrics, RSS and CPU time;
* ``cluster``: the Kubernetes side (Nodes, Services) on the emulated API server;
* ``floor_aws`` and ``floor_gcp``: straight-line scripts making only the writes a scenario needs;
* ``runner``: the scenarios at one size; ``results``: what is measured; ``report``: tables and plots.
"""
