# The treesync server. Untested: it was written on a machine without a Docker engine.
#   docker build -t treesync . && docker run -e DATABASE_URL=... -e TREESYNC_JWT_SECRET=... -p 8787:8787 treesync
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
ENV HOST=0.0.0.0 PORT=8787
EXPOSE 8787
USER node
# Node itself as PID 1 (not npm), so SIGTERM from `docker stop` reaches the server, which drains.
CMD ["node", "--import", "tsx", "server/main.ts"]
