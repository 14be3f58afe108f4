"""Server face: the jupyter_server extension and its REST handlers. Never imports IPython."""
