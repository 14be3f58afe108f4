/**
 * Wire types of the /mlm/api REST API: the single source of truth on the TypeScript side.
 */

export interface IStoreStatus {
  store_uri: string;
  objects_uri: string;
  backend: 'sqlite' | 'postgresql';
  schema_version: string;
  experiments: number;
  runs: number;
  models: number;
  objects: number;
  object_bytes: number;
  version: string;
}

export interface IErrorReply {
  message: string;
}

export const SIDEBAR_ID = 'jupyter-mlm-sidebar';
