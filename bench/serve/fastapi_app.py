"""FastAPI peer (gunicorn -k uvicorn.workers.UvicornWorker): the V2 infer
and MLflow /invocations endpoints over the shared peer model, async def."""
from fastapi import FastAPI, Request

import peer_model as pm

app = FastAPI()


@app.post("/v2/models/spam/infer")
async def infer(request: Request):
    req = await request.json()
    return pm.v2_response(req, pm.v2_rows(req))


@app.post("/invocations")
async def invocations(request: Request):
    return pm.invocations(await request.json())
