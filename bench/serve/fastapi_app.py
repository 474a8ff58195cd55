"""FastAPI peer (gunicorn -k uvicorn.workers.UvicornWorker): the V2 infer
and MLflow /invocations endpoints over the shared peer models, async def.
/invocations takes the model as ?model=NAME, as sluice does when it serves
more than one."""
from fastapi import FastAPI, Request

import peer_model as pm

app = FastAPI()


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    req = await request.json()
    return pm.v2_response(name, req, pm.v2_rows(req))


@app.post("/invocations")
async def invocations(request: Request, model: str = "spam"):
    return pm.invocations(model, await request.json())
