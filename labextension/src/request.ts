/**
 * The only place that talks to the server: every call goes through requestAPI.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export class MLMRequestError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  as: 'json' | 'blob' = 'json'
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'mlm', 'api', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new MLMRequestError(
      `Cannot reach the jupyter_mlm server extension: ${String(error)}`,
      0
    );
  }
  if (response.ok && as === 'blob') {
    return (await response.blob()) as T;
  }
  const text = await response.text();
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const message =
      body && typeof body === 'object' && 'message' in body
        ? String((body as { message: unknown }).message)
        : `${response.status} ${response.statusText}`;
    throw new MLMRequestError(message, response.status);
  }
  return body as T;
}
