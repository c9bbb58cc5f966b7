provider "aws" {
  region = "eu-west-1"
}

resource "aws_vpc" "main" {
  cidr_block           = "10.28.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "ci-vpc" }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.28.1.0/24"
  availability_zone       = "eu-west-1a"
  map_public_ip_on_launch = true
  tags                    = { Name = "public-a" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "main" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
  tags = { Name = "public" }
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

resource "aws_subnet" "private" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.28.10.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "private-a" }
}

resource "aws_security_group" "jenkins_ssh" {
  name        = "jenkins-ssh"
  description = "jenkins-ssh security group"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.28.0.0/16"]
  }
  tags = { Name = "jenkins-ssh" }
}

resource "aws_security_group" "jenkins_web" {
  name        = "jenkins-web"
  description = "jenkins-web security group"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "jenkins-web" }
}

resource "aws_security_group_rule" "https_internal" {
  type              = "ingress"
  from_port         = 443
  to_port           = 443
  protocol          = "tcp"
  cidr_blocks       = ["10.28.0.0/16"]
  security_group_id = aws_security_group.jenkins_web.id
}

resource "aws_vpc_security_group_ingress_rule" "ui" {
  security_group_id = aws_security_group.jenkins_web.id
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.jenkins_web.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "runner" {
  name        = "runner"
  description = "runner security group"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "runner" }
}

resource "aws_vpc_security_group_ingress_rule" "runner_from_jenkins" {
  security_group_id            = aws_security_group.runner.id
  ip_protocol                  = "tcp"
  from_port                    = 22
  to_port                      = 22
  referenced_security_group_id = aws_security_group.jenkins_web.id
}

resource "aws_instance" "jenkins" {
  ami                         = "ami-0d64bb532e0502c46"
  instance_type               = "t3.large"
  subnet_id                   = aws_subnet.public.id
  vpc_security_group_ids      = [aws_security_group.jenkins_ssh.id, aws_security_group.jenkins_web.id]
  associate_public_ip_address = true
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "jenkins-controller" }
}

resource "aws_instance" "runner" {
  ami                    = "ami-0d64bb532e0502c46"
  instance_type          = "t3.large"
  subnet_id              = aws_subnet.private.id
  vpc_security_group_ids = [aws_security_group.runner.id]
  metadata_options {
    http_tokens = "required"
  }
  tags = { Name = "gitlab-runner-01" }
}
