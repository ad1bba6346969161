# dlt's sql_database source (PostgreSQL) -> its bigquery destination, pointed at the BigQuery
# emulator. argv: postgres URL, schema, table, project, dataset, pipelines dir.
#
# google-cloud-bigquery honours BIGQUERY_EMULATOR_HOST (set by the caller, http://host:port). dlt
# insists on credentials: a throwaway service-account key whose token_uri is a loopback stub served
# by this script (the emulator ignores the token), so nothing leaves the machine.
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dlt
from dlt.sources.sql_database import sql_table
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pg, schema, table, project, dataset, pipelines_dir = sys.argv[1:7]
# SQLAlchemy 2.1 reads postgresql:// with psycopg 3; the venv has psycopg2.
pg = pg.replace("postgresql://", "postgresql+psycopg2://", 1)


class Token(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"access_token": "emulator", "expires_in": 3600, "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Token)
threading.Thread(target=server.serve_forever, daemon=True).start()
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
# As a key file's JSON text (dlt's own parsing keeps token_uri; a native Credentials object trips it).
credentials = json.dumps({
    "type": "service_account", "project_id": project, "private_key": pem, "private_key_id": "bench",
    "client_email": "bench@%s.iam.gserviceaccount.com" % project, "token_uri": "http://127.0.0.1:%d/token" % server.server_port,
})

source = sql_table(credentials=pg, schema=schema, table=table, backend=os.environ.get("DLT_SQL_BACKEND", "sqlalchemy"))
pipeline = dlt.pipeline(pipeline_name="bench_bq", pipelines_dir=pipelines_dir,
                        destination=dlt.destinations.bigquery(credentials=credentials, location="US"), dataset_name=dataset)
info = pipeline.run(source, write_disposition="replace", loader_file_format=os.environ.get("DLT_LOADER_FORMAT") or None)
info.raise_on_failed_jobs()
print(pipeline.last_trace.last_normalize_info.row_counts.get(table, 0))
