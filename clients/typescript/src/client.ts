// tasker's HTTP API through a client generated from its OpenAPI document:
// openapi-typescript turns lib/server/openapi.json into types (generated/schema.d.ts),
// openapi-fetch makes typed calls with them. If the document stops describing
// these routes well enough, this file stops compiling.
import createClient from "openapi-fetch";

import type { components, paths } from "../generated/schema.js";

export type Task = components["schemas"]["TaskResponse"];

export function taskerClient(baseUrl: string, apiKey?: string) {
  return createClient<paths>({ baseUrl, headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {} });
}

/** Submit a task and return it (201). */
export async function submit(baseUrl: string, namespace: string, name: string, context: Record<string, unknown>) {
  const { data, error, response } = await taskerClient(baseUrl).POST("/v1/tasks", {
    body: { namespace, name, context },
  });
  if (error !== undefined || data === undefined) throw new Error(`submit answered ${response.status}: ${JSON.stringify(error)}`);
  return data;
}

/** Read a task with its steps. */
export async function getTask(baseUrl: string, uuid: string) {
  const { data, error, response } = await taskerClient(baseUrl).GET("/v1/tasks/{uuid}", {
    params: { path: { uuid } },
  });
  if (error !== undefined || data === undefined) throw new Error(`get answered ${response.status}: ${JSON.stringify(error)}`);
  return data;
}

/** The error body of an unknown task: the API's code and message. */
export async function missingTask(baseUrl: string, uuid: string) {
  const { error, response } = await taskerClient(baseUrl).GET("/v1/tasks/{uuid}", { params: { path: { uuid } } });
  return { status: response.status, error };
}
