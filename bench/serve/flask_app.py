"""Flask peer (gunicorn sync workers): the same two endpoints."""
from flask import Flask, jsonify, request

import peer_model as pm

app = Flask(__name__)


@app.post("/v2/models/<name>/infer")
def infer(name):
    req = request.get_json()
    return jsonify(pm.v2_response(name, req, pm.v2_rows(req)))


@app.post("/invocations")
def invocations():
    return jsonify(pm.invocations(request.args.get("model", "spam"), request.get_json()))
