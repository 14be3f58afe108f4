import { LabIcon } from '@jupyterlab/ui-components';

// jp-icon3 lets the theme recolour the glyph, so it matches light and dark themes.
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2 3 6.5v11L12 22l9-4.5v-11L12 2zm0 2.2 6.7 3.35L12 10.9 5.3 7.55 12 4.2zM5 9.2l6 3v7.6l-6-3V9.2zm8 10.6v-7.6l6-3v7.6l-6 3z"/>
  </g>
</svg>`;

export const mlmIcon = new LabIcon({ name: 'jupyter-mlm:icon', svgstr });
