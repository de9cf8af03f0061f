# neural-codec gRPC server on a CUDA GPU box.
#
#   docker build -t neural-codec .
#   docker run --gpus all -p 50051:50051 -p 9464:9464 \
#     -v /srv/neural-codec:/data -v /etc/neural-codec:/etc/neural-codec:ro neural-codec
#
# The image runs `codec serve` on 0.0.0.0 with the token file and TLS files from /etc/neural-codec
# (see docs/DEPLOY.md); the data dir (jobs database, uploads, results, checkpoints) is the /data volume.
# Stop it with `docker stop -t 120`: SIGTERM drains, running jobs checkpoint and resume on the next start.

ARG CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04
FROM ${CUDA_IMAGE}

# torch wheels carry their own CUDA runtime; the base image only needs the driver hooks.
ARG TORCH_VERSION=2.14.1
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    CODEC_DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv \
 && pip install --upgrade pip \
 && pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY codec ./codec
COPY service ./service
COPY scripts ./scripts
# Stubs are generated here and shipped inside the package (codec/_proto), so the runtime image
# needs neither the .proto files nor a compiler step at start-up.
RUN pip install "grpcio-tools>=1.60" \
 && python scripts/gen_proto.py \
 && pip install . "torch==${TORCH_VERSION}" --extra-index-url "${TORCH_INDEX}" \
 && python -c "import codec.rpc, service.server" \
 && useradd --system --uid 10001 --home-dir /data codec \
 && mkdir -p /data && chown codec /data

USER codec
WORKDIR /data
VOLUME ["/data"]
EXPOSE 50051 9464

# The server certificate must name the host you connect by; for this in-container check either give
# it a SAN of IP:127.0.0.1 or set CODEC_TLS_SERVER_NAME to a name it carries.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD codec health --server 127.0.0.1:50051 --tls-ca /etc/neural-codec/ca.pem

STOPSIGNAL SIGTERM
ENTRYPOINT ["codec", "serve"]
CMD ["--host", "0.0.0.0", "--port", "50051", "--data-dir", "/data", "--device", "cuda", \
     "--token-file", "/etc/neural-codec/tokens", \
     "--tls-cert", "/etc/neural-codec/server.pem", "--tls-key", "/etc/neural-codec/server.key", \
     "--metrics-port", "9464", "--grace", "30"]
