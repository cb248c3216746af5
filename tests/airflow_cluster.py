"""A real, throw-away Airflow 3 deployment for tests: scheduler + dag-processor + api-server.

The harness is `tthc_airflow.local_cluster`, which the demo and `make airflow-ui` use too:

    with airflow_cluster(tmp_path / "airflow", metadata_db_url, env={"TTHC_...": ...}) as cluster:
        cluster.airflow("dags", "unpause", "my_dag")
        cluster.api("GET", "/api/v2/dags/my_dag/dagRuns")
"""

from tthc_airflow.local_cluster import (  # noqa: F401 - the tests' names for the shared harness
    AirflowCluster,
    ClusterError,
    airflow_cluster,
    free_port,
    group_members,
)
