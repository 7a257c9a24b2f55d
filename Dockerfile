# Argyll: the engine, REST API and dashboard of `argyll serve`, run as an unprivileged user.
FROM python:3.11-slim

RUN useradd --create-home --uid 1000 argyll
WORKDIR /opt/argyll
COPY --chown=argyll:argyll . .
# The README's install command.
RUN pip install --no-cache-dir -e .

USER argyll
ENV ARGYLL_HOME=/home/argyll/.argyll
RUN mkdir -p "$ARGYLL_HOME"
VOLUME /home/argyll/.argyll
EXPOSE 8080
CMD ["argyll", "serve", "--host", "0.0.0.0", "--port", "8080"]
