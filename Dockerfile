FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CONTROL_PLANE_VAR_DIR=/var/lib/control-plane
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN mkdir -p /var/lib/control-plane && SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput
RUN useradd --system --home /app control-plane && chown -R control-plane /var/lib/control-plane
USER control-plane
EXPOSE 8000
ENV OMP_NUM_THREADS=1
CMD ["sh", "scripts/web.sh"]
