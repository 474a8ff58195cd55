"""Flask peer (gunicorn sync workers): the same two endpoints."""
from flask import Flask, jsonify, request

import peer_model as pm

app = Flask(__name__)


@app.post("/v2/models/spam/infer")
def infer():
    req = request.get_json()
    return jsonify(pm.v2_response(req, pm.v2_rows(req)))


@app.post("/invocations")
def invocations():
    return jsonify(pm.invocations(request.get_json()))
